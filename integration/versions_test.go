package integration

import (
	"regexp"
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
	decision := regexp.MustCompile(`msg="signgate allow [^"]*runtimeimage/app:v1"[^\n]*`).FindString(e.SigngateLog.String())
	want := "runtime_image=false"
	if e.Containerd.FillsContainerImage() {
		want = "runtime_image=true"
	}
	if !strings.Contains(decision, want) {
		t.Fatalf("containerd %s: the decision does not say %s: %q", e.Containerd.Version, want, decision)
	}
}
