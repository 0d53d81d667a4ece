package nri

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/containers"
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
// started since, until it is removed; and each pod's sandbox.
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
	if got := runningIDs(f.p); got != "[sb-good c-good sb-other c-paused]" {
		t.Fatalf("running after Synchronize: %s", got)
	}
	if c := f.p.Running()[1]; c.Pod != "pod" || c.Namespace != "default" || c.Name != "app" || c.Ref != "reg.io/good:v1" || c.PodID != "sb-good" {
		t.Fatalf("described as %+v", c)
	}
	f.store.rootfs["c-new"] = f.store.rootfs["c-good"]
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-new", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[sb-good c-good sb-other c-paused]" {
		t.Fatalf("a container only created is listed running: %s", got)
	}
	if err := f.p.StartContainer(ctx, f.pod, ctr("c-new", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[sb-good c-good c-new sb-other c-paused]" {
		t.Fatalf("running after a start: %s", got)
	}
	// A start refused is listed all the same (TestStartRefusedIsStillJudged).
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
	if got := runningIDs(f.p); got != "[sb-good c-good]" {
		t.Fatalf("running after a removal and a new Synchronize: %s", got)
	}
}

// A pod's sandbox is running too: listed at Synchronize or once
// RunPodSandbox admits it, until it is stopped or removed, and judged
// again as RunPodSandbox judged it: a key revoked on the pause image
// makes it untrusted.
func TestRunningSandboxIsJudged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.p.RunPodSandbox(ctx, f.pod); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[sb-good]" {
		t.Fatalf("running after RunPodSandbox: %s", got)
	}
	if c := f.p.Running()[0]; !c.Sandbox || c.Name != "(sandbox)" || c.Pod != "pod" || c.Namespace != "default" || c.PodID != "sb-good" {
		t.Fatalf("described as %+v", c)
	}
	j, ok := f.p.Judge(ctx, "sb-good")
	if !ok || !j.Decision.Verdict.Allowed || j.Decision.Ref != "reg.io/good:v1" || !j.Sandbox {
		t.Fatalf("judged %+v %+v", j, j.Decision.Verdict)
	}
	f.eng.setTrusted("reg.io/good", false)
	j, _ = f.p.Judge(ctx, "sb-good")
	if v := j.Decision.Verdict; v.Allowed || v.Cause != verify.CauseNoSignatures || v.Digest != "sha256:"+hexOf('1') || j.Decision.Container != "(sandbox)" {
		t.Fatalf("after the revocation: %+v %+v", j.Decision, v)
	}
	if err := f.p.StopPodSandbox(ctx, f.pod); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[]" {
		t.Fatalf("running after StopPodSandbox: %s", got)
	}
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, nil); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[sb-good]" {
		t.Fatalf("running after Synchronize: %s", got)
	}
	if err := f.p.RemovePodSandbox(ctx, f.pod); err != nil {
		t.Fatal(err)
	}
	if got := runningIDs(f.p); got != "[]" {
		t.Fatalf("running after RemovePodSandbox: %s", got)
	}
	// A sandbox refused is not running.
	if err := f.p.RunPodSandbox(ctx, f.pod); err == nil || runningIDs(f.p) != "[]" {
		t.Fatalf("refused sandbox: %v, running %s", err, runningIDs(f.p))
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

// A running container created before signgate started is judged by what
// containerd recorded it was created from (image config, layer chain),
// never by its image name resolved again: the tag it names has moved to
// another image since, and it is still trusted, as its image is. The
// image NRI reports (containerd 2.4) must agree with the record; an image
// containerd knows in another repository only is a doubt.
func TestJudgeBindsARunningContainerToItsRecord(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good, bad := dig(t, "reg.io/good@sha256:"+hexOf('1')), dig(t, "reg.io/bad@sha256:"+hexOf('2'))
	cfg := f.store.configOf(good.DigestStr())
	f.store.names["reg.io/good@"+good.DigestStr()] = []name.Digest{good}                      // what CRI records beside the tag
	f.store.names["reg.io/good:v1"] = []name.Digest{dig(t, "reg.io/good@sha256:"+hexOf('3'))} // the tag moved
	listed := func(id string, img *api.Image) *api.Container {
		return &api.Container{Id: id, Name: "app", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/good:v1"}, Image: img}
	}
	f.store.rootfs["c-24"], f.store.rootfs["c-24-other"] = f.store.rootfs["c-good"], f.store.rootfs["c-good"]
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, []*api.Container{
		listed("c-good", nil),
		listed("c-24", &api.Image{Name: "reg.io/good:v1", Digest: good.DigestStr(), ConfigDigest: cfg.String()}),
		listed("c-24-other", &api.Image{Name: "reg.io/bad:v1", Digest: bad.DigestStr(), ConfigDigest: cfg.String()}),
	}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]verify.Cause{"c-good": verify.CauseVerified, "c-24": verify.CauseVerified, "c-24-other": verify.CauseImageMismatch} {
		j, ok := f.p.Judge(ctx, id)
		if v := j.Decision.Verdict; !ok || v.Cause != want || (want == verify.CauseVerified && v.Digest != good.DigestStr()) {
			t.Errorf("%s: %s %s (%s), want %s", id, v.Cause, v.Digest, v.Reason, want)
		}
	}
	// Known by its config only in another repository than it names.
	f2 := newFixture(t)
	f2.store.names[cfg.String()] = []name.Digest{dig(t, "reg.io/elsewhere@"+good.DigestStr())}
	if _, err := f2.p.Synchronize(ctx, []*api.PodSandbox{f2.pod}, []*api.Container{listed("c-good", nil)}); err != nil {
		t.Fatal(err)
	}
	if j, _ := f2.p.Judge(ctx, "c-good"); j.Decision.Verdict.Cause != verify.CauseImageUnknown || !strings.Contains(j.Decision.Verdict.Reason, "no name in reg.io/good") {
		t.Errorf("named in another repository only: %s (%s)", j.Decision.Verdict.Cause, j.Decision.Verdict.Reason)
	}
}

// The memo of what created containers run forgets one container at a
// time, the one added first, when full, not all of them; and a
// Synchronize forgets the containers containerd no longer lists.
func TestCreatedIsForgottenOneAtATime(t *testing.T) {
	var c createdSet
	for i := range maxCreated + 1 {
		c.add(fmt.Sprint(i), nil)
	}
	for id, want := range map[string]bool{"0": false, "1": true, fmt.Sprint(maxCreated / 2): true, fmt.Sprint(maxCreated): true} {
		if _, ok := c.get(id); ok != want {
			t.Errorf("container %s remembered: %v, want %v", id, ok, want)
		}
	}
	ctx := context.Background()
	f := newFixture(t)
	for _, id := range []string{"c-good", "c-gone"} {
		f.store.rootfs[id] = f.store.rootfs["c-good"]
		if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr(id, "reg.io/good:v1")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{f.pod}, []*api.Container{{Id: "c-good", PodSandboxId: "sb-good", State: api.ContainerState_CONTAINER_CREATED}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.p.created.get("c-good"); !ok {
		t.Error("a container containerd lists was forgotten")
	}
	if _, ok := f.p.created.get("c-gone"); ok {
		t.Error("a container containerd no longer lists is remembered")
	}
}

// byConfig resolves an image ID as the real store does: every name of a
// manifest with that config, sorted.
func (f *fakeStore) byConfig(id string) []name.Digest {
	seen := map[string]bool{}
	var out []name.Digest
	for _, ds := range f.names {
		for _, d := range ds {
			if f.configOf(d.DigestStr()).String() == id && !seen[d.String()] {
				seen[d.String()] = true
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, func(a, b name.Digest) int { return strings.Compare(a.String(), b.String()) })
	return out
}
