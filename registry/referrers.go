package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// MaxReferrerPages bounds how many pages of the referrers API one listing
// reads. A registry that paginates further is refused rather than read in
// part: a policy that every signature must verify has to see them all.
const MaxReferrerPages = 16

// ErrTooManyReferrerPages is returned past MaxReferrerPages.
var ErrTooManyReferrerPages = fmt.Errorf("more than %d pages of referrers", MaxReferrerPages)

// Referrers lists what refers to d: every page of the OCI referrers API
// (following Link headers, which go-containerregistry does not), or the
// referrers tag where the registry has no such API.
func (c *Client) Referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	repo := d.Context()
	rt, err := c.route(repo.RegistryStr())
	if err != nil {
		return nil, err
	}
	auth, err := authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, rt, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: tr}
	next := &url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/referrers/%s", repo.RepositoryStr(), d.DigestStr())}
	var out []v1.Descriptor
	for page := 0; next != nil; page++ {
		if page == MaxReferrerPages {
			return nil, fmt.Errorf("listing referrers of %s: %w", d, ErrTooManyReferrerPages)
		}
		m, link, supported, err := referrersPage(ctx, client, next)
		if err != nil {
			return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
		}
		if !supported {
			if page > 0 {
				return nil, fmt.Errorf("listing referrers of %s: page %d of the referrers API is missing", d, page+1)
			}
			return c.referrersTag(ctx, d)
		}
		out = append(out, m...)
		if next, err = nextPage(next, link); err != nil {
			return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
		}
	}
	return out, nil
}

func referrersPage(ctx context.Context, client *http.Client, u *url.URL) ([]v1.Descriptor, string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable); err != nil {
		return nil, "", false, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), string(types.OCIImageIndex)) {
		return nil, "", false, nil
	}
	b, err := io.ReadAll(resp.Body) // capped by the transport
	if err != nil {
		return nil, "", false, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, "", false, fmt.Errorf("a malformed referrers page from %s: %w", u.Redacted(), err)
	}
	return idx.Manifests, resp.Header.Get("Link"), true, nil
}

// nextPage follows an RFC 8288 Link header with rel="next", on the same
// registry only.
func nextPage(cur *url.URL, link string) (*url.URL, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		ref, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return nil, fmt.Errorf("a malformed Link header %q", link)
		}
		u := cur.ResolveReference(ref)
		if u.Host != cur.Host {
			return nil, fmt.Errorf("the next page of referrers is on another host (%s)", u.Host)
		}
		return u, nil
	}
	return nil, nil
}

// referrersTag reads the referrers tag (sha256-<hex>) some registries keep
// instead of the API; none means no referrers.
func (c *Client) referrersTag(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	opts, err := c.Options(ctx, d.Context())
	if err != nil {
		return nil, err
	}
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
	idx, err := remote.Index(tag, opts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the referrers tag %s: %w", tag, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the referrers tag %s: %w", tag, err)
	}
	return m.Manifests, nil
}
