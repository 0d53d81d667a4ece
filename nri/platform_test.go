package nri

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/verify"
)

// The engine is told which platform manifest runs, as the image store
// binds it to the container's layers; when that cannot be told, nothing
// (only the index's signatures can then count). The annotation names the
// manifest whose signatures verified.
func TestRequestNamesThePlatformManifestThatRuns(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good := "sha256:" + hexOf('1')
	runs := digest.Digest("sha256:" + hexOf('9'))
	f.store.platforms = map[string]digest.Digest{good: runs}
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	f.store.platforms[good] = ""
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if got := f.eng.platforms; len(got) != 2 || got[0] != runs.String() || got[1] != "" {
		t.Fatalf("requests named platforms %q; want %s, then none", got, runs)
	}

	adj := annotations(&verify.Verdict{Policy: "p", Digest: good, Allowed: true, Verified: true, Cause: verify.CauseVerified, Manifest: runs.String()})
	if got := adj.GetAnnotations()[AnnotationManifest]; got != runs.String() {
		t.Fatalf("%s = %q, want %s", AnnotationManifest, got, runs)
	}
}
