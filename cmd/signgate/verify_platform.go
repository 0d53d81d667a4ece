package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/verify"
)

// hostPlatform is the platform a node like this host pulls.
func hostPlatform() string { return verify.HostPlatform().String() }

// platformToRun is the digest of the manifest a node of platform p would
// run from img, for the policies that count its signatures. It asks the
// registry only when a policy would verify img (an image no policy
// verifies is decided without a request). A verdict says why it cannot.
func platformToRun(ctx context.Context, engine *verify.Engine, img name.Digest, namespace string, p verify.Platform) (string, *verify.Verdict) {
	repo, err := verify.CanonicalRepo(img.Context())
	if err != nil {
		return "", nil // the engine denies the name
	}
	if pol := engine.Snapshot().Policies.Match(repo, namespace); pol == nil || pol.Mode == verify.Allow {
		return "", nil
	}
	d, err := engine.PlatformManifest(ctx, img, p)
	switch {
	case errors.Is(err, verify.ErrNoPlatform):
		return "", verify.Deny(repo, img.DigestStr(), verify.CauseImageUnknown, fmt.Sprintf("the index names no manifest for platform %s, so a node of that platform cannot run it", p))
	case err != nil:
		return "", verify.Deny(repo, img.DigestStr(), verify.CauseRegistryError, fmt.Sprintf("cannot read the manifest to find which one platform %s runs: %s", p, verify.Excerpt(err)))
	}
	return d, nil
}
