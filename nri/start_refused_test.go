package nri

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// CRI-O starts a container whatever StartContainer answers (containerd
// honours a refusal): a start signgate refuses leaves the container listed
// as running, so that it is judged again (at once: StartRefused), shown by
// ps and stopped where the policy says so. The daemon's task list leaves
// out one that never ran (daemon.TestStartRefusedIsJudgedAtOnce).
func TestStartRefusedIsStillJudged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var refused []string
	f.p.StartRefused = func(id string) { refused = append(refused, id) }
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	f.eng.setTrusted("reg.io/good", false) // revoked between creation and start
	if err := f.p.StartContainer(ctx, f.pod, c); err == nil || !strings.HasPrefix(err.Error(), "at start: signgate denied image reg.io/good:v1") {
		t.Fatalf("start after the revocation: %v", err)
	}
	if got := runningIDs(f.p); got != "[c-good]" || fmt.Sprint(refused) != "[c-good]" {
		t.Fatalf("after a refused start: running %s, reported refused %v", got, refused)
	}
	j, ok := f.p.Judge(ctx, "c-good")
	if !ok || j.Decision.Verdict.Allowed || j.Decision.Ref != "reg.io/good:v1" {
		t.Fatalf("the refused container judged %+v (listed %v)", j.Decision.Verdict, ok)
	}
	// One created before signgate ran, refused at start in full.
	bad := ctr("c-bad", "reg.io/bad:v1")
	if err := f.p.StartContainer(ctx, f.pod, bad); err == nil {
		t.Fatal("an untrusted container started")
	}
	if got := runningIDs(f.p); got != "[c-bad c-good]" || fmt.Sprint(refused) != "[c-good c-bad]" {
		t.Fatalf("after an unknown container's refused start: running %s, reported refused %v", got, refused)
	}
	if err := f.p.RemoveContainer(ctx, f.pod, bad); err != nil || runningIDs(f.p) != "[c-good]" {
		t.Fatalf("removed: %v, running %s", err, runningIDs(f.p))
	}
}
