package nri

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// CRI-O starts a container whatever StartContainer answers (containerd
// honours a refusal): a start signgate refuses leaves the container listed
// as running, so that it is judged again (at once once CRI-O's post-start
// says it runs: StartRefused), shown by ps and stopped where the policy
// says so. The daemon's task list leaves out one that never ran
// (daemon.TestStartRefusedIsJudgedAtOnce). Post-start is asked of CRI-O
// only.
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
	if got := runningIDs(f.p); got != "[c-good]" || len(refused) != 0 {
		t.Fatalf("after a refused start: running %s, reported refused %v before it ran", got, refused)
	}
	for range 2 { // said once
		if err := f.p.PostStartContainer(ctx, f.pod, c); err != nil || fmt.Sprint(refused) != "[c-good]" {
			t.Fatalf("post-start: %v, reported refused %v", err, refused)
		}
	}
	if rc := f.p.Running()[0]; !rc.StartedRefused {
		t.Fatalf("not marked started though refused: %+v", rc)
	}
	f.p.Listed("c-good") // the runtime lists it running now
	if rc := f.p.Running()[0]; rc.StartedRefused {
		t.Fatalf("still marked once listed: %+v", rc)
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
	if err := f.p.PostStartContainer(ctx, f.pod, bad); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[c-bad c-good]" || fmt.Sprint(refused) != "[c-good c-bad]" {
		t.Fatalf("after an unknown container's refused start: running %s, reported refused %v", got, refused)
	}
	// A start allowed is not reported at its post-start.
	f.eng.setTrusted("reg.io/good", true)
	if err := f.p.StartContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	if err := f.p.PostStartContainer(ctx, f.pod, c); err != nil || len(refused) != 2 {
		t.Fatalf("an allowed start reported refused: %v %v", err, refused)
	}
	if err := f.p.RemoveContainer(ctx, f.pod, bad); err != nil || runningIDs(f.p) != "[c-good]" {
		t.Fatalf("removed: %v, running %s", err, runningIDs(f.p))
	}
}

// Post-start is subscribed to on CRI-O only: containerd does not start a
// container whose start was refused.
func TestPostStartOnCRIOOnly(t *testing.T) {
	if ev, _ := eventsFor("v0.11.0", "cri-o", "1.35.2"); !ev.IsSet(api.Event_POST_START_CONTAINER) {
		t.Errorf("CRI-O: %v", ev.PrettyString())
	}
	if ev, _ := eventsFor("v0.12.0", "containerd", "2.2.0"); ev.IsSet(api.Event_POST_START_CONTAINER) {
		t.Errorf("containerd: %v", ev.PrettyString())
	}
}
