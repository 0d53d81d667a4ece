package integration

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 26, item 0: an image that reuses a signed image's layers with
// another config (entrypoint, command, env, user) is another program. The
// layers bind the root filesystem; the config containerd records binds
// the rest. Here a CRI client creates a container from the unsigned twin
// while naming the signed image (as a tag that moved between containerd's
// two lookups does): it never runs. containerd 2.4 reports the config at
// creation; older releases record it only once the container exists, and
// the start is refused. Ground truth is containerd's record, not the log.
func TestConfigOfAnotherImageNeverRuns(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	signed := e.image("cfgbind/app", "k1")
	twin, err := harness.RebuildConfig(signed, e.Registry+"/cfgbind/twin:v1", func(c *v1.Config) {
		c.Env = append(c.Env, "RACE_EVIL=1")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pull(e.Registry + "/cfgbind/twin:v1"); err != nil {
		t.Fatal(err)
	}
	twinID := strings.TrimSpace(e.crictlOut("inspecti", "-o", "go-template", "--template", "{{.status.id}}", twin.String()))
	signedID := strings.TrimSpace(e.crictlOut("inspecti", "-o", "go-template", "--template", "{{.status.id}}", signed.String()))
	if twinID == signedID || twinID == "" {
		t.Fatalf("the twin's image ID %q is the signed image's", twinID)
	}

	id, err := e.Create(pod, cfg, twinID, harness.WithUserSpecifiedImage(e.Registry+"/cfgbind/app:v1"))
	switch {
	case !e.Containerd.HonorsUserSpecifiedImage():
		// 1.7 names what it runs: the unsigned twin, denied as such.
		mustDeny(t, err, "cfgbind/twin", "no cosign signatures found")
		return
	case e.Containerd.FillsContainerImage():
		// 2.4 reports the image and its config at creation: the twin, whose
		// config is not under the signed digest (before, the shared layers
		// were enough to allow it).
		mustDeny(t, err, "signgate denied image "+e.Registry+"/cfgbind/app:v1",
			"the runtime reports the container's image as "+e.Registry+"/cfgbind/twin:v1 ("+twin.DigestStr()+")")
		return
	}
	// Before 2.4 nothing at creation names the config: the creation is
	// allowed (the layers are the signed image's), the start is not.
	mustAllow(t, id, err)
	// CRI reports the record's image ID as that image's repo digest.
	if got := strings.TrimSpace(e.crictlOut("inspect", "-o", "go-template", "--template", "{{.status.imageRef}}", id)); got != twin.String() {
		t.Fatalf("containerd's record says the container was created from %q, want the twin %s", got, twin)
	}
	out, err := e.Crictl("start", id)
	if err == nil {
		t.Fatalf("a container created with the unsigned twin's config started: %s", out)
	}
	mustDeny(t, fmt.Errorf("%s", out), "at start: signgate denied image "+e.Registry+"/cfgbind/app:v1", "created with image config "+twinID)
	if at := strings.TrimSpace(e.crictlOut("inspect", "-o", "go-template", "--template", "{{.status.startedAt}}", id)); startedAt(t, at) {
		t.Fatalf("containerd says the refused container started at %s", at)
	}
	// The signed image itself still starts.
	ok, err := e.Create(pod, cfg, e.Registry+"/cfgbind/app:v1")
	mustAllow(t, ok, err)
	e.mustRun(ok)
}

// crictlOut runs crictl and fails the test on an error.
func (e *env) crictlOut(args ...string) string {
	e.t.Helper()
	out, err := e.Crictl(args...)
	if err != nil {
		e.t.Fatalf("crictl %v: %v %s", args, err, out)
	}
	return out
}
