package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNoPlatform: the index names no manifest for the platform asked.
var ErrNoPlatform = errors.New("the index names no manifest for the platform")

// maxIndexDepth bounds indexes within indexes: containerd walks any
// depth, but no image needs more, and a deeper one is refused.
const maxIndexDepth = 4

// Platform is a node's platform as containerd matches one: its
// specification and containerd's own matcher for it (variant defaults and
// fallbacks such as arm64 → arm64/v8 → arm/v8…, amd64/v3 → v2 → v1 → 386,
// and Windows' OS version). Matching by hand chose, for some indexes, a
// manifest other than the one containerd pulls.
type Platform struct {
	Spec  specs.Platform
	match platforms.MatchComparer
}

// String is the platform as containerd writes it.
func (p Platform) String() string { return platforms.FormatAll(p.Spec) }

// HostPlatform is the platform containerd pulls for on this host by
// default (containerd's platforms.Default: the CPU's variant included).
func HostPlatform() Platform {
	return Platform{Spec: platforms.DefaultSpec(), match: platforms.Default()}
}

// ParsePlatform reads os/arch[/variant] as `ctr pull --platform` does
// (windows(10.0.17763)/amd64 names an OS version), and matches as
// containerd does for a platform asked for by name (platforms.Only).
func ParsePlatform(s string) (Platform, error) {
	if !strings.Contains(s, "/") {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7", s)
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7: %w", s, err)
	}
	return Platform{Spec: p, match: platforms.Only(p)}, nil
}

// PlatformManifest is, read from the registry, the digest of the manifest
// a node of platform p pulls from img: img's own for a plain manifest, the
// index's manifest containerd chooses for p otherwise. Where no container
// runs yet (a pull, the CLI) it stands for the one the node will run; a
// container is bound to the manifest whose layers it runs instead.
func (e *Engine) PlatformManifest(ctx context.Context, img name.Digest, p Platform) (string, error) {
	if p.match == nil {
		return "", fmt.Errorf("image %s: no platform to choose a manifest for", img)
	}
	opts, err := e.cosign.Registry.Options(ctx, img.Context())
	if err != nil {
		return "", err
	}
	opts = append(opts, remote.WithContext(ctx))
	get := func(d name.Digest) (*remote.Descriptor, error) { return remote.Get(d, opts...) }
	desc, err := get(img)
	if err != nil {
		return "", err
	}
	if !desc.MediaType.IsIndex() {
		return img.DigestStr(), nil
	}
	return choose(get, desc, img, p, 0)
}

// choose is, as containerd's images.Manifest resolves an index for a
// platform, the manifest it runs: of the entries that match (or carry no
// platform), the best by the matcher's order, ties in index order, those
// without a platform last and then judged by their config's platform; a
// nested index is resolved the same way.
func choose(get func(name.Digest) (*remote.Descriptor, error), desc *remote.Descriptor, img name.Digest, p Platform, depth int) (string, error) {
	if depth >= maxIndexDepth {
		return "", fmt.Errorf("index %s: indexes nested deeper than %d", img, maxIndexDepth)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return "", fmt.Errorf("index %s: %w", img, err)
	}
	var cands []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.Platform == nil || p.match.Match(spec(m.Platform)) {
			cands = append(cands, m)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].Platform == nil {
			return false
		}
		if cands[j].Platform == nil {
			return true
		}
		return p.match.Less(spec(cands[i].Platform), spec(cands[j].Platform))
	})
	if len(cands) == 0 {
		return "", fmt.Errorf("%w %s", ErrNoPlatform, p)
	}
	best := cands[0]
	child := img.Context().Digest(best.Digest.String())
	if best.MediaType.IsIndex() {
		d, err := get(child)
		if err != nil {
			return "", err
		}
		return choose(get, d, child, p, depth+1)
	}
	if best.Platform == nil {
		ok, err := configMatches(get, child, p)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%w %s", ErrNoPlatform, p)
		}
	}
	return best.Digest.String(), nil
}

// configMatches says whether the platform written in m's config matches
// p, for an index entry that names none.
func configMatches(get func(name.Digest) (*remote.Descriptor, error), m name.Digest, p Platform) (bool, error) {
	d, err := get(m)
	if err != nil {
		return false, err
	}
	img, err := d.Image()
	if err != nil {
		return false, fmt.Errorf("manifest %s: %w", m, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return false, fmt.Errorf("manifest %s: config: %w", m, err)
	}
	var cp specs.Platform
	if err := json.Unmarshal(raw, &cp); err != nil {
		return false, fmt.Errorf("manifest %s: config: %w", m, err)
	}
	return p.match.Match(platforms.Normalize(cp)), nil
}

// spec is p in the OCI spec's type containerd's matcher takes.
func spec(p *v1.Platform) specs.Platform {
	return specs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}
