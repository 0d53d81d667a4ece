package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/verify"
)

// nodeImages stands for containerd's image store: each reference names one
// digest, and every container runs the image it names, created from the
// config nodeConfig (which names every image).
type nodeImages map[string]name.Digest

const nodeConfig = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

func (n nodeImages) Resolve(_ context.Context, ref string) ([]name.Digest, error) {
	if d, ok := n[ref]; ok {
		return []name.Digest{d}, nil
	}
	if ref == nodeConfig {
		var out []name.Digest
		for _, d := range n {
			out = append(out, d)
		}
		return out, nil
	}
	return nil, fmt.Errorf("image %s is not on the node", ref)
}
func (nodeImages) RootFS(context.Context, string) (digest.Digest, error) { return "sha256:chain", nil }
func (nodeImages) BuiltFrom(context.Context, digest.Digest, digest.Digest, name.Digest) error {
	return nil
}
func (nodeImages) CreatedFrom(context.Context, string) (imagestore.Created, error) {
	return imagestore.Created{Chain: "sha256:chain", Config: nodeConfig}, nil
}
func (nodeImages) VolumeImages(context.Context, imagestore.ImageVolume) ([]name.Digest, error) {
	return nil, errors.New("no image volumes here")
}
func (nodeImages) VolumeLayers(context.Context, imagestore.ImageVolume) (digest.Digest, error) {
	return "", errors.New("no image volumes here")
}
func (nodeImages) Known(string, string) ([]name.Digest, digest.Digest) { return nil, "" }
func (nodeImages) PlatformManifest(context.Context, digest.Digest, digest.Digest, name.Digest) (digest.Digest, error) {
	return "", nil
}
func (nodeImages) SandboxImage(context.Context, string) (string, digest.Digest, error) {
	return "", "", errors.New("no sandboxes here")
}

// nodeTasks stands for containerd's tasks: which run, and the stops asked.
type nodeTasks struct {
	mu      sync.Mutex
	running map[string]bool
	stopped chan string
}

func (n *nodeTasks) RunningTasks(context.Context) (map[string]bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]bool{}
	for id, ok := range n.running {
		out[id] = ok
	}
	return out, nil
}

func (n *nodeTasks) StopTask(_ context.Context, id string, grace time.Duration) error {
	n.mu.Lock()
	delete(n.running, id)
	n.mu.Unlock()
	n.stopped <- fmt.Sprintf("%s %s", id, grace)
	return nil
}

// runningNode is a daemon (no containerd, no NRI) told by NRI's
// Synchronize that container "c1" of pod default/web runs ref.
func runningNode(t *testing.T, d *Daemon, ref string, img name.Digest) *nodeTasks {
	t.Helper()
	d.plugin.Runtime = imagestore.Runtime{Records: nodeImages{ref: img}}
	tasks := &nodeTasks{running: map[string]bool{"c1": true}, stopped: make(chan string, 1)}
	d.running.tasks = tasks
	pod := &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}
	c := &api.Container{Id: "c1", Name: "app", PodSandboxId: "sb1", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: ref}}
	if _, err := d.plugin.Synchronize(t.Context(), []*api.PodSandbox{pod}, []*api.Container{c}); err != nil {
		t.Fatal(err)
	}
	return tasks
}

// waitForJudgement waits (for the loop, on its own) until the container
// is judged as want.
func waitForJudgement(t *testing.T, d *Daemon, want string) localapi.RunningContainer {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
		}
		if testutil.ToFloat64(d.running.judged) > 0 {
			d.running.mu.Lock()
			_, reported := d.running.reported["c1"]
			d.running.mu.Unlock()
			if reported == (want == localapi.RunningUntrusted) {
				return d.JudgeRunning(t.Context(), "test").Containers[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running container was not judged %s", want)
		}
	}
}

// vaultNode is a daemon whose policy "release" needs the Vault key
// "release", with container c1 running an image version 1 of it signed.
func vaultNode(t *testing.T) (*kmstest.Vault, *Daemon, *syncedBuffer, name.Digest, *nodeTasks) {
	t.Helper()
	v := kmstest.NewVaultKey(t, "release")
	host := srvHost(t).host
	img := mustPush(t, host+"/team/app:v1")
	if err := sigtest.SignLegacyWith(v.Signer(t, "release", 1), img); err != nil {
		t.Fatal(err)
	}
	d, logs, _ := kmsDaemon(t, t.TempDir(), fmt.Sprintf("[kms.vault]\naddress = %q\n", v.URL))
	return v, d, logs, img, runningNode(t, d, host+"/team/app:v1", img)
}

// A KMS key revoked under a running container: the sync that learns it
// makes signgate judge the container again, on its own; it is reported
// untrusted (metric, log line naming pod, container, image, digest and
// cause, ps) and, under on_untrusted_running = "stop", stopped once the
// loop, judging again on its own a stop_confirm later, sees it denied
// again.
func TestRunningContainerJudgedAgainWhenItsKeyIsRevoked(t *testing.T) {
	v, d, logs, img, tasks := vaultNode(t)
	cfgWithStop(t, d)
	clock := newFakeClock(d)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.runningLoop(ctx)

	d.judgeSoon("test start")
	rc := waitForJudgement(t, d, localapi.RunningTrusted)
	if rc.Verdict != localapi.RunningTrusted || fmt.Sprint(rc.VerifiedBy) != "[cosign: release]" || rc.Policy != "release" || rc.Digest != img.DigestStr() {
		t.Fatalf("before the revocation: %+v", rc)
	}

	v.Rotate(t, "release")
	v.SetMinDecryptionVersion("release", 2)
	if changes, err := d.SyncKeys(t.Context()); err != nil || len(changes) == 0 {
		t.Fatalf("sync: %v %v", changes, err)
	}
	waitFor(t, func() bool { return strings.HasPrefix(clock.acted(d, "c1"), "stop pending: confirming untrusted") })
	if stopped(d, tasks) {
		t.Fatal("stopped on the first denial")
	}
	clock.advance(time.Minute)
	select {
	case got := <-tasks.stopped:
		if got != "c1 "+stopGrace.String() {
			t.Fatalf("stopped %s", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the container was not stopped; log:\n%s", logs)
	}
	if n := testutil.ToFloat64(d.running.untrusted.WithLabelValues("release")); n != 1 {
		t.Fatalf("signgate_running_untrusted{policy=release} = %v", n)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "running container no longer trusted") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("log lines for the untrusted container: %q", lines)
	}
	for _, want := range []string{"pod=web", "namespace=default", "container=app", "id=c1", "image=" + img.Context().String() + ":v1", "digest=" + img.DigestStr(), "policy=release", "cause=untrusted", `action="stop pending: confirming untrusted at `, `trigger="KMS keys changed"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the first log line lacks %s: %s", want, lines[0])
		}
	}
	for _, want := range []string{"id=c1", "cause=untrusted", "action=stop trigger=\"" + confirming + `"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("the second log line lacks %s: %s", want, lines[1])
		}
	}
	waitFor(t, func() bool { return testutil.ToFloat64(d.running.stops.WithLabelValues("release", "ok")) == 1 })
	// Stopped, it no longer runs, and is no longer listed.
	if resp := d.JudgeRunning(t.Context(), "test"); len(resp.Containers) != 0 {
		t.Fatalf("a stopped container is listed: %+v", resp)
	}
}

// cfgWithStop rewrites d's config so its policy stops untrusted running
// containers, and reloads it.
func cfgWithStop(t *testing.T, d *Daemon) {
	t.Helper()
	b, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(b), "[policy.cosign]", "on_untrusted_running = \"stop\"\n[policy.cosign]", 1)
	if err := os.WriteFile(d.path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.running.due: // this reload's own judgement is not the one tested
	default:
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-t.Context().Done():
		}
	}
}

// A reload that tightens the policy (here: from allow to enforce, with a
// key that never signed the image) reaches the running container: it is
// reported untrusted, and left running under the default "report". Under
// "stop", a verdict that is not final (the registry cannot be read) stops
// nothing.
func TestRunningContainerJudgedAgainWhenThePolicyTightens(t *testing.T) {
	host := srvHost(t)
	img := mustPush(t, host.host+"/team/app:v1")
	signer := mustSigner(t)
	dir := t.TempDir()
	write := func(policy string) string {
		t.Helper()
		return keyedConfig(t, dir, signer.PublicPEM(), policy)
	}
	cfg := write(`mode = "allow"`)
	logs := &syncedBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tasks := runningNode(t, d, host.host+"/team/app:v1", img)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.runningLoop(ctx)
	d.judgeSoon("test start")
	if rc := waitForJudgement(t, d, localapi.RunningAllowed); rc.Verdict != localapi.RunningAllowed || rc.Cause != "allowed_by_policy" {
		t.Fatalf("under mode allow: %+v", rc)
	}

	write("[policy.cosign]\nkeys = [\"k\"]")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	rc := waitForJudgement(t, d, localapi.RunningUntrusted)
	if rc.Cause != "no_signatures" || rc.Action != "report" || rc.Policy != "apps" {
		t.Fatalf("after the policy tightened: %+v", rc)
	}
	if n := testutil.ToFloat64(d.running.untrusted.WithLabelValues("apps")); n != 1 {
		t.Fatalf("signgate_running_untrusted{policy=apps} = %v", n)
	}
	if !strings.Contains(logs.String(), `msg="running container no longer trusted" pod=web namespace=default container=app id=c1`) ||
		!strings.Contains(logs.String(), `action=report trigger="config reloaded"`) {
		t.Fatalf("log:\n%s", logs)
	}
	// signgate ps asks the API.
	rec := httptest.NewRecorder()
	d.handleRunning(rec, httptest.NewRequest("GET", localapi.PathRunning, nil))
	var resp localapi.RunningResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Containers) != 1 || resp.Containers[0].Verdict != localapi.RunningUntrusted || resp.Containers[0].Digest != img.DigestStr() {
		t.Fatalf("GET %s: %v %s", localapi.PathRunning, err, rec.Body)
	}

	// The registry goes away, and the policy says stop: the new engine
	// cannot read the signatures, and that is no reason to stop anything.
	host.srv.Close()
	write("on_untrusted_running = \"stop\"\n[policy.cosign]\nkeys = [\"k\"]")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		d.running.mu.Lock()
		defer d.running.mu.Unlock()
		return strings.Contains(d.running.reported["c1"], "stop deferred")
	})
	select {
	case id := <-tasks.stopped:
		t.Fatalf("stopped %s on a registry error", id)
	default:
	}
}

type registryServer struct {
	srv  *httptest.Server
	host string
}

func srvHost(t *testing.T) registryServer {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return registryServer{srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
}

// A KMS version rotated out is trusted until its grace period ends, and
// no sync or reload says when that happens: the loop judges the running
// containers again then, on its own clock.
func TestRunningContainersJudgedWhenAGracePeriodEnds(t *testing.T) {
	v, d, _, _, _ := vaultNode(t)
	waits, fire := make(chan time.Duration, 4), make(chan time.Time)
	d.running.after = func(t time.Duration) <-chan time.Time { waits <- t; return fire }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.runningLoop(ctx)

	v.Rotate(t, "release")
	rotated := time.Now()
	if changes, err := d.SyncKeys(t.Context()); err != nil || len(changes) == 0 {
		t.Fatalf("sync: %v %v", changes, err)
	}
	var wait time.Duration
	select {
	case wait = <-waits:
	case <-time.After(10 * time.Second):
		t.Fatal("no timer for the end of version 1's grace period")
	}
	if end := rotated.Add(24*time.Hour + time.Second); wait < time.Until(end)-time.Minute || wait > time.Until(end)+time.Minute {
		t.Fatalf("the loop waits %s, not until the grace period (24h) ends", wait)
	}
	fire <- time.Now()
	select {
	case <-waits: // judged (the loop waits again only after judging)
	case <-time.After(10 * time.Second):
		t.Fatal("the end of the grace period judged nothing")
	}
}

// barrier allows an image only once every one of n verifications has
// begun: judged one at a time, the first would wait out its timeout.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrier) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	b.mu.Lock()
	if b.arrived++; b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	v := &verify.Verdict{Image: req.Image.Context().String(), Digest: req.Image.DigestStr(), Policy: "p"}
	select {
	case <-b.all:
		v.Allowed, v.Verified, v.Cause = true, true, verify.CauseVerified
	case <-ctx.Done():
		v.Cause, v.Pending = verify.CausePending, true
	}
	return v
}

// Running containers are judged side by side: one whose verification
// takes its whole timeout (a registry that hangs) holds up no other.
func TestRunningContainersAreJudgedSideBySide(t *testing.T) {
	d, _, _ := kmsDaemon(t, t.TempDir(), "")
	img, _ := name.NewDigest("reg.io/app@sha256:" + strings.Repeat("1", 64))
	tasks := runningNode(t, d, "reg.io/app:v1", img)
	pod := &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}
	var ctrs []*api.Container
	for i := range 3 {
		id := fmt.Sprintf("c%d", i+1)
		tasks.running[id] = true
		ctrs = append(ctrs, &api.Container{Id: id, Name: id, PodSandboxId: "sb1", State: api.ContainerState_CONTAINER_RUNNING, Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/app:v1"}})
	}
	if _, err := d.plugin.Synchronize(t.Context(), []*api.PodSandbox{pod}, ctrs); err != nil {
		t.Fatal(err)
	}
	d.plugin.Decider = &barrier{n: 3, all: make(chan struct{})}
	var got []string
	for _, c := range d.JudgeRunning(t.Context(), "test").Containers {
		got = append(got, c.ID+" "+c.Verdict)
	}
	if fmt.Sprint(got) != "[c1 trusted c2 trusted c3 trusted]" {
		t.Fatalf("judged %v", got)
	}
}
