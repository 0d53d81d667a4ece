package policysource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/signgate/signgate/config"
)

// A policy source may be a directory instead of a registry: an OCI image
// layout holding the policy artifact and what signs it (its cosign
// signature tag, its referrers), as `signgate policy export` writes it. It
// is served, for one refresh, by a registry on a loopback port, so the
// artifact is verified by the same engine through the same client as one
// in a registry; nothing in the directory is trusted for being there.

// refName is the OCI annotation a layout names a manifest's tag by.
const refName = "org.opencontainers.image.ref.name"

// ServeLayout serves the layout at dir and returns the reference of the
// one policy artifact in it, and how to stop serving.
func ServeLayout(dir string) (string, func(), error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return "", nil, fmt.Errorf("policy_source.path %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return "", nil, fmt.Errorf("policy_source.path %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", nil, fmt.Errorf("policy_source.path %s: %w", dir, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true))
	// The layout is written in-process; the port, open to anything on the
	// node's network namespace, only reads: no blob pushed into the
	// daemon's memory, no policy deleted to fake an unreachable source.
	push := remote.WithTransport(inProcess{reg})
	srv := &http.Server{Handler: readOnly(reg)}
	go func() { _ = srv.Serve(l) }()
	stop := func() { _ = srv.Close() }
	repo, err := name.NewRepository(l.Addr().String()+"/policy", name.Insecure)
	if err != nil {
		stop()
		return "", nil, err
	}
	var policy []string
	for _, desc := range im.Manifests {
		var ref name.Reference = repo.Digest(desc.Digest.String())
		if tag := desc.Annotations[refName]; tag != "" {
			if ref, err = name.NewTag(repo.String()+":"+tag, name.Insecure); err != nil {
				stop()
				return "", nil, fmt.Errorf("policy_source.path %s: %w", dir, err)
			}
		}
		if desc.MediaType.IsIndex() {
			ii, err := idx.ImageIndex(desc.Digest)
			if err == nil {
				err = remote.WriteIndex(ref, ii, push)
			}
			if err != nil {
				stop()
				return "", nil, fmt.Errorf("policy_source.path %s: %s: %w", dir, desc.Digest, err)
			}
			continue
		}
		img, err := idx.Image(desc.Digest)
		if err == nil {
			err = remote.Write(ref, img, push)
		}
		if err != nil {
			stop()
			return "", nil, fmt.Errorf("policy_source.path %s: %s: %w", dir, desc.Digest, err)
		}
		if m, err := img.Manifest(); err == nil && m.Config.MediaType == config.PolicyArtifactType {
			policy = append(policy, repo.Digest(desc.Digest.String()).String())
		}
	}
	if len(policy) != 1 {
		stop()
		err := fmt.Errorf("policy_source.path %s holds %d signgate policy artifacts; want exactly one", dir, len(policy))
		if len(policy) > 1 {
			// Which one would be a guess: refused, counted, shown.
			return "", nil, &RefusedError{Reason: "malformed", Err: err}
		}
		return "", nil, err // none yet: perhaps a copy under way
	}
	return policy[0], stop, nil
}

// Export writes the policy artifact at ref (resolved by opts' registry),
// its cosign signature tag and every manifest referring to it, to a new
// OCI layout at dir, for a node whose policy_source.path is a copy of it.
func Export(ctx context.Context, ref name.Reference, dir string, opts ...remote.Option) (name.Digest, error) {
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	d := ref.Context().Digest(desc.Digest.String())
	img, err := desc.Image()
	if err != nil {
		return d, err
	}
	if _, _, err := Read(d.String(), img, config.DefaultMaxBlobBytes); err != nil {
		return d, err
	}
	if _, err := os.Stat(dir); err == nil {
		return d, fmt.Errorf("%s exists; export writes a new layout", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return d, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refName: "policy"})); err != nil {
		return d, err
	}
	// What signs it: cosign's signature tag, then the OCI referrers (bundles,
	// notation), by the API or its fallback tag.
	sigTag := desc.Digest.Algorithm + "-" + desc.Digest.Hex + ".sig"
	if err := appendTagged(p, ref.Context().Tag(sigTag), sigTag, opts); err != nil {
		return d, err
	}
	refs, err := remote.Referrers(d, opts...)
	if err != nil {
		return d, err
	}
	rm, err := refs.IndexManifest()
	if err != nil {
		return d, err
	}
	for _, r := range rm.Manifests {
		if err := appendManifest(p, ref.Context().Digest(r.Digest.String()), "", opts); err != nil {
			return d, err
		}
	}
	return d, nil
}

// appendTagged adds the manifest tag names, if the registry has it.
func appendTagged(p layout.Path, ref name.Tag, tag string, opts []remote.Option) error {
	err := appendManifest(p, ref, tag, opts)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil
	}
	return err
}

func appendManifest(p layout.Path, ref name.Reference, tag string, opts []remote.Option) error {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return err
	}
	var ann map[string]string
	if tag != "" {
		ann = map[string]string{refName: tag}
	}
	if desc.MediaType.IsIndex() {
		ii, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return p.AppendIndex(ii, layout.WithAnnotations(ann))
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(ann))
}
