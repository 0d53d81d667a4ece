package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// containerd 2.4 and newer report the image a container is created from
// (NRI's Container.Image); signgate checks it against the image store and
// says so in the decision. Older runtimes leave it empty, and the image
// store alone is asked.
func TestRuntimeReportsTheImage(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("runtimeimage/app", "k1")
	id, err := e.Create(pod, cfg, e.Registry+"/runtimeimage/app:v1")
	mustAllow(t, id, err)
	// Written just after signgate answers, read through a pipe.
	decision := decisionFor(t, e.Env, id)
	want := "runtime_image=false"
	if e.Containerd.FillsContainerImage() {
		want = "runtime_image=true"
	}
	if !strings.Contains(decision, want) {
		t.Fatalf("containerd %s: the decision does not say %s: %q", e.Containerd.Version, want, decision)
	}
}

// signgate doctor, run against this containerd and its configuration, says
// what the README's table says of this version.
func TestDoctor(t *testing.T) {
	e := need(t)
	if err := e.PullGate(true); err != nil {
		t.Fatal(err)
	}
	defer e.PullGate(false)
	out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor",
		"--config", filepath.Join(e.Dir, "signgate.toml"), "--containerd-config", filepath.Join(e.Dir, "containerd.toml")).CombinedOutput()
	t.Logf("signgate doctor:\n%s", out)
	c := e.Containerd
	mark := func(holds bool, optional bool) string {
		switch {
		case holds:
			return "OK "
		case optional:
			return "-- "
		}
		return "NO "
	}
	for _, want := range []string{
		"containerd " + c.Version,
		mark(true, false) + "  NRI is on",
		mark(c.HasValidator(), false) + "  fails closed",
		mark(c.HasPullGate(), true) + "  pull-time gate",
		mark(c.FillsContainerImage(), true) + "  containerd itself reports",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor does not say %q", want)
		}
	}
	if failed := err != nil; failed == c.HasValidator() {
		t.Errorf("exit status %v on containerd %s (validator: %v)", err, c.Version, c.HasValidator())
	}
}
