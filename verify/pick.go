package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrNoPlatform: the index names no manifest for the platform asked.
var ErrNoPlatform = errors.New("the index names no manifest for the platform")

// HostPlatform is the platform containerd pulls for on this host by
// default: its OS and architecture.
func HostPlatform() v1.Platform { return v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH} }

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// PlatformManifest is, read from the registry, the digest of the manifest
// a node of platform p pulls from img: img's own for a plain manifest, the
// index's manifest for p otherwise. Where no container runs yet (a pull,
// the CLI) it stands for the one the node will run; a container is bound
// to the manifest whose layers it runs instead.
func (e *Engine) PlatformManifest(ctx context.Context, img name.Digest, p v1.Platform) (string, error) {
	opts, err := e.cosign.Registry.Options(ctx, img.Context())
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(img, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return "", err
	}
	if !desc.MediaType.IsIndex() {
		return img.DigestStr(), nil
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return "", fmt.Errorf("index %s: %w", img, err)
	}
	if d := pick(idx, p); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("%w %s", ErrNoPlatform, p)
}

// pick is the index's manifest for p, as containerd matches a platform:
// the OS and architecture, and the variant when one is asked for (a
// manifest without a variant matches any); the first such in the index.
func pick(idx *v1.IndexManifest, p v1.Platform) string {
	for _, m := range idx.Manifests {
		mp := m.Platform
		if mp == nil || mp.OS != p.OS || mp.Architecture != p.Architecture {
			continue
		}
		if p.Variant != "" && mp.Variant != "" && mp.Variant != p.Variant {
			continue
		}
		return m.Digest.String()
	}
	return ""
}
