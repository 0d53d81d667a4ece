package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// evidence is what one verification read from the registry that says
// which signature objects there are: each referrers listing, each
// .sig/.att tag and each bundle manifest it looked at, and what it found
// there. Everything else
// it read is addressed by digest, so when a later look finds the same
// listings and tags, a verification would read the same objects again.
// A verification whose verdict rests on something else that changes
// with time (notation: certificate validity, OCSP and CRL answers) is
// not renewable.
type evidence struct {
	mu          sync.Mutex
	seen        map[string]string // see evidenceKey -> fingerprint
	unrenewable bool
}

type evidenceCtxKey struct{}

func withEvidence(ctx context.Context) (context.Context, *evidence) {
	ev := &evidence{seen: map[string]string{}}
	return context.WithValue(ctx, evidenceCtxKey{}, ev), ev
}

// Where evidence was read: a referrers listing of a manifest
// (repository@digest), a tag (repository:tag), or a bundle's manifest
// (repository@digest): a listing may still name a manifest deleted since
// (the sha256-<hex> fallback index, a lagging listing), so each bundle
// read is asked for again too.
const (
	seenReferrers = "referrers "
	seenTag       = "tag "
	seenManifest  = "manifest "
	tagAbsent     = "absent"
)

// seenAt parses where evidence was read: its kind (one of the prefixes
// above) and the listing's manifest, the tag or the bundle's manifest.
func seenAt(where string) (string, name.Reference, error) {
	for _, kind := range []string{seenReferrers, seenTag, seenManifest} {
		rest, ok := strings.CutPrefix(where, kind)
		if !ok {
			continue
		}
		var ref name.Reference
		var err error
		if kind == seenTag {
			ref, err = name.NewTag(rest)
		} else {
			ref, err = name.NewDigest(rest)
		}
		return kind, ref, err
	}
	return "", nil, fmt.Errorf("%q: not a listing, tag or manifest signgate reads", where)
}

func note(ctx context.Context, where, fingerprint string) {
	if ev, ok := ctx.Value(evidenceCtxKey{}).(*evidence); ok {
		ev.mu.Lock()
		ev.seen[where] = fingerprint
		ev.mu.Unlock()
	}
}

func noteUnrenewable(ctx context.Context) {
	if ev, ok := ctx.Value(evidenceCtxKey{}).(*evidence); ok {
		ev.mu.Lock()
		ev.unrenewable = true
		ev.mu.Unlock()
	}
}

// renewable is what the verdict rests on, or nil when it cannot be renewed.
func (ev *evidence) renewable() map[string]string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.unrenewable || len(ev.seen) == 0 {
		return nil
	}
	return maps.Clone(ev.seen)
}

// listingFingerprint identifies a referrers listing by what it lists:
// its descriptors (digest, artifact type, annotations), in digest order,
// whichever order the registry sends them in.
func listingFingerprint(idx *v1.IndexManifest) string {
	ds := slices.Clone(idx.Manifests)
	slices.SortFunc(ds, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	h := sha256.New()
	for _, d := range ds {
		b, _ := json.Marshal(struct {
			Digest, ArtifactType string
			Annotations          map[string]string
		}{d.Digest.String(), d.ArtifactType, d.Annotations})
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// noteTag notes what a .sig or .att tag held: its manifest's digest, or
// absent (cosign reads a missing tag as no signatures, and so does this).
func noteTag(ctx context.Context, tag name.Tag, sigs interface{ Digest() (v1.Hash, error) }, n int) error {
	if n == 0 {
		note(ctx, seenTag+tag.String(), tagAbsent)
		return nil
	}
	d, err := sigs.Digest()
	if err != nil {
		return err
	}
	note(ctx, seenTag+tag.String(), d.String())
	return nil
}
