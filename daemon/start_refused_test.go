package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/localapi"
)

// CRI-O starts a container whose start signgate refused: it is judged
// again at once (the refusal asks the loop), reported untrusted and shown
// by ps like any running container. One the runtime did not start (as
// containerd honours the refusal) is not in its task list, and not judged.
func TestStartRefusedIsJudgedAtOnce(t *testing.T) {
	host := srvHost(t)
	img, err := sigtest.PushImage(host.host + "/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.k]\npem = '''\n%s'''\n[[policy]]\nname = \"apps\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"k\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), signer.PublicPEM())
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ref := host.host + "/team/app:v1"
	d.plugin.Runtime = imagestore.Runtime{Records: nodeImages{ref: img}}
	// c1 runs (CRI-O started it all the same); c2 never ran.
	d.running.tasks = &nodeTasks{running: map[string]bool{"c1": true}, stopped: make(chan string, 1)}
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
	select {
	case why := <-d.running.due:
		if why != "a container's start was refused" {
			t.Fatalf("judged again because %q", why)
		}
	default:
		t.Fatal("a refused start did not ask the loop to judge again")
	}
	resp := d.JudgeRunning(t.Context(), "a container's start was refused")
	if len(resp.Containers) != 1 || resp.Containers[0].ID != "c1" || resp.Containers[0].Verdict != localapi.RunningUntrusted || resp.Containers[0].Digest != img.DigestStr() {
		t.Fatalf("judged %+v", resp.Containers)
	}
}
