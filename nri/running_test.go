package nri

import (
	"context"
	"fmt"
	"github.com/signgate/signgate/containers"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/verify"
)

// runningIDs lists what the plugin takes to be running.
func runningIDs(p *Plugin) string {
	var ids []string
	for _, c := range p.Running() {
		ids = append(ids, c.ID)
	}
	return fmt.Sprint(ids)
}

// The plugin knows what runs: what containerd lists running at
// Synchronize (not what is only created or has stopped), each container
// started since, until it is removed.
func TestRunningContainersAreKnown(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := &api.PodSandbox{Id: "sb-other", Name: "web", Namespace: "prod"}
	listed := []*api.Container{
		{Id: "c-good", Name: "app", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/good:v1"}},
		{Id: "c-paused", Name: "side", PodSandboxId: "sb-other", State: api.ContainerState_CONTAINER_PAUSED},
		{Id: "c-created", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_CREATED},
		{Id: "c-stopped", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_STOPPED},
	}
	synced := 0
	f.p.Synchronized = func() { synced++ }
	if upd, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod, other}, listed); err != nil || upd != nil || synced != 1 {
		t.Fatalf("Synchronize: %v %v (told the daemon %d times)", upd, err, synced)
	}
	if got := runningIDs(f.p); got != "[c-good c-paused]" {
		t.Fatalf("running after Synchronize: %s", got)
	}
	if c := f.p.Running()[0]; c.Pod != "pod" || c.Namespace != "default" || c.Name != "app" || c.Ref != "reg.io/good:v1" || c.PodID != "sb-good" {
		t.Fatalf("described as %+v", c)
	}
	f.store.rootfs["c-new"] = f.store.rootfs["c-good"]
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-new", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[c-good c-paused]" {
		t.Fatalf("a container only created is listed running: %s", got)
	}
	if err := f.p.StartContainer(ctx, f.pod, ctr("c-new", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[c-good c-new c-paused]" {
		t.Fatalf("running after a start: %s", got)
	}
	// A start refused is not running.
	if err := f.p.StartContainer(ctx, f.pod, ctr("c-bad", "reg.io/bad:v1")); err == nil {
		t.Fatal("an untrusted container started")
	}
	if err := f.p.RemoveContainer(ctx, f.pod, ctr("c-new", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	// A new connection's Synchronize is the whole truth: c-paused went
	// while signgate was away.
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, listed[:1]); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[c-good]" {
		t.Fatalf("running after a removal and a new Synchronize: %s", got)
	}
}

// A running container is judged again with what was bound when it was
// created, or, listed at Synchronize, worked out in full; a key revoked
// since (the engine no longer trusts its image) makes it untrusted, and
// the verdict says which image and why.
func TestJudgeRunningContainer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	listed := &api.Container{Id: "c-good", Name: "app", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/good:v1"}}
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, []*api.Container{listed}); err != nil {
		t.Fatal(err)
	}
	j, ok := f.p.Judge(ctx, "c-good")
	if !ok || !j.Decision.Verdict.Allowed || fmt.Sprint(j.Decision.Verdict.VerifiedBy()) != "[cosign: k1]" || j.Pod != "pod" || j.Name != "app" {
		t.Fatalf("judged %+v %+v", j, j.Decision.Verdict)
	}
	resolves := f.store.resolves
	f.eng.setTrusted("reg.io/good", false)
	j, _ = f.p.Judge(ctx, "c-good")
	if v := j.Decision.Verdict; v.Allowed || v.Cause != verify.CauseNoSignatures || v.Digest != "sha256:"+hexOf('1') || j.Decision.Ref != "reg.io/good:v1" {
		t.Fatalf("after the revocation: %+v", v)
	}
	if f.store.resolves != resolves {
		t.Fatal("judging again resolved the image again instead of using what was bound")
	}
	if _, ok := f.p.Judge(ctx, "c-unknown"); ok {
		t.Fatal("judged a container never seen")
	}
	// Listed running, but what it runs cannot be determined: untrusted.
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, []*api.Container{{Id: "c-gone", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/gone:v1"}}}); err != nil {
		t.Fatal(err)
	}
	if j, _ := f.p.Judge(ctx, "c-gone"); j.Decision.Verdict.Allowed || j.Decision.Verdict.Cause != verify.CauseImageUnknown {
		t.Fatalf("an image that cannot be resolved: %+v", j.Decision.Verdict)
	}
}
