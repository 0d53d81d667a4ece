package daemon

import (
	"fmt"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/localapi"
)

// CRI-O starts a container whose start signgate refused: it is judged
// again at once (its post-start asks the loop), reported untrusted and
// shown by ps like any running container, though CRI-O's CRI lists it
// running only a moment later (CRI-O records the start after post-start).
// Once listed, the list is the word on it: stopped, it is judged no more.
// One the runtime did not start (as containerd honours the refusal) gets
// no post-start and is not in the task list: not judged.
func TestStartRefusedIsJudgedAtOnce(t *testing.T) {
	host := srvHost(t)
	img := mustPush(t, host.host+"/team/app:v1")
	d := mustNew(t, keyedConfig(t, t.TempDir(), mustSigner(t).PublicPEM(), "[policy.cosign]\nkeys = [\"k\"]"))
	ref := host.host + "/team/app:v1"
	d.plugin.Runtime = imagestore.Runtime{Records: nodeImages{ref: img}}
	// c1 runs (CRI-O started it all the same, and does not list it yet);
	// c2 never ran.
	tasks := &nodeTasks{running: map[string]bool{}, stopped: make(chan string, 1)}
	d.running.tasks = tasks
	pod := &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}
	ctr := func(id string) *api.Container {
		return &api.Container{Id: id, Name: "app-" + id, PodSandboxId: "sb1", Annotations: map[string]string{containers.ImageNameAnnotation: ref}}
	}
	select {
	case why := <-d.running.due: // New's own
		t.Logf("already due: %s", why)
	default:
	}
	for _, id := range []string{"c1", "c2"} {
		if err := d.plugin.StartContainer(t.Context(), pod, ctr(id)); err == nil {
			t.Fatalf("%s: an unsigned image's start was not refused", id)
		}
	}
	if err := d.plugin.PostStartContainer(t.Context(), pod, ctr("c1")); err != nil {
		t.Fatal(err)
	}
	select {
	case why := <-d.running.due:
		if why != "a container whose start was refused runs" {
			t.Fatalf("judged again because %q", why)
		}
	default:
		t.Fatal("a refused start did not ask the loop to judge again")
	}
	judged := func() string {
		var out []string
		for _, c := range d.JudgeRunning(t.Context(), "test").Containers {
			if c.Verdict != localapi.RunningUntrusted || c.Digest != img.DigestStr() {
				t.Errorf("judged %+v", c)
			}
			out = append(out, c.ID)
		}
		return fmt.Sprint(out)
	}
	if got := judged(); got != "[c1]" {
		t.Fatalf("judged %s after the post-start, before CRI-O lists it", got)
	}
	tasks.mu.Lock()
	tasks.running["c1"] = true
	tasks.mu.Unlock()
	if got := judged(); got != "[c1]" {
		t.Fatalf("judged %s once listed", got)
	}
	tasks.mu.Lock()
	delete(tasks.running, "c1") // stopped
	tasks.mu.Unlock()
	if got := judged(); got != "[]" {
		t.Fatalf("judged %s once stopped", got)
	}
}
