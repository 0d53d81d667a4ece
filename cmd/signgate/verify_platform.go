package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// hostPlatform is the platform a node like this host pulls: containerd's
// default, its OS and architecture.
func hostPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// parsePlatform reads os/arch[/variant].
func parsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("--platform %q: want os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// platformToRun is the digest of the manifest a node of platform p would
// run from img, for the policies that count its signatures: img itself
// for a plain manifest, the index's manifest for p otherwise. It asks the
// registry only when a policy would verify img (an image no policy
// verifies is decided without a request). A verdict says why it cannot.
func platformToRun(ctx context.Context, engine *verify.Engine, reg *registry.Client, img name.Digest, namespace string, p v1.Platform) (string, *verify.Verdict) {
	repo, err := verify.CanonicalRepo(img.Context())
	if err != nil {
		return "", nil // the engine denies the name
	}
	if pol := engine.Snapshot().Policies.Match(repo, namespace); pol == nil || pol.Mode == verify.Allow {
		return "", nil
	}
	opts, err := reg.Options(ctx, img.Context())
	if err == nil {
		var desc *remote.Descriptor
		if desc, err = remote.Get(img, opts...); err == nil {
			if !desc.MediaType.IsIndex() {
				return img.DigestStr(), nil
			}
			var idx *v1.IndexManifest
			if idx, err = v1.ParseIndexManifest(strings.NewReader(string(desc.Manifest))); err == nil {
				if d := pick(idx, p); d != "" {
					return d, nil
				}
				return "", verify.Deny(repo, img.DigestStr(), verify.CauseImageUnknown, fmt.Sprintf("the index names no manifest for platform %s, so a node of that platform cannot run it", p))
			}
		}
	}
	return "", verify.Deny(repo, img.DigestStr(), verify.CauseRegistryError, fmt.Sprintf("cannot read the manifest to find which one platform %s runs: %s", p, verify.Excerpt(err)))
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
