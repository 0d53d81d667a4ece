package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/registry/podsecrets"
)

// privateRegistry is a registry only robot:password reads (basic auth),
// or none while down.
type privateRegistry struct {
	host string
	mu   sync.Mutex
	pw   string
	down bool
}

func newPrivateRegistry(t *testing.T, pw string) *privateRegistry {
	t.Helper()
	p := &privateRegistry{pw: pw}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		pw, down := p.pw, p.down
		p.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if u, got, ok := r.BasicAuth(); !ok || u != "robot" || got != pw {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

func (p *privateRegistry) set(pw string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pw, p.down = pw, down
}

func (p *privateRegistry) auth() remote.Option {
	p.mu.Lock()
	defer p.mu.Unlock()
	return remote.WithAuth(&authn.Basic{Username: "robot", Password: p.pw})
}

// podAPI is an API server holding pod team/web (UID uid-web, naming the
// secret regcred), pod other/web (UID uid-other, naming none), and
// team/regcred, which gives robot:pw for host at resourceVersion rv.
type podAPI struct {
	srv  *httptest.Server
	mu   sync.Mutex
	host string
	pw   string
	rv   int
	down bool
}

func newPodAPI(t *testing.T, host, pw string) *podAPI {
	t.Helper()
	a := &podAPI{host: host, pw: pw, rv: 1}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		switch {
		case a.down:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/api/v1/namespaces/team/pods/web":
			fmt.Fprint(w, `{"kind":"Pod","metadata":{"uid":"uid-web"},"spec":{"imagePullSecrets":[{"name":"regcred"}]}}`)
		case r.URL.Path == "/api/v1/namespaces/other/pods/web":
			fmt.Fprint(w, `{"kind":"Pod","metadata":{"uid":"uid-other"},"spec":{}}`)
		case r.URL.Path == "/api/v1/namespaces/team/secrets/regcred":
			cfg := `{"auths":{"` + a.host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:"+a.pw)) + `"}}}`
			b, _ := json.Marshal(map[string]any{"kind": "Secret", "metadata": map[string]any{"namespace": "team", "resourceVersion": fmt.Sprint(a.rv)},
				"type": "kubernetes.io/dockerconfigjson", "data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(cfg))}})
			w.Write(b)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// rotate gives the secret a new password (a new resourceVersion).
func (a *podAPI) rotate(pw string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pw, a.rv = pw, a.rv+1
}

func (a *podAPI) setDown(down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = down
}

// podImages is a node where every reference in refs names its digest and
// every pod's sandbox runs pause.
type podImages struct {
	nodeImages
	pause string
}

func (p podImages) SandboxImage(context.Context, string) (string, digest.Digest, error) {
	return p.pause, "sha256:chain", nil
}

// secretNode is a daemon under on_untrusted_running = "stop" whose policy
// needs the Vault key "release", with [registry.pod_pull_secrets] read
// from api on the clock at, and pod team/web (sandbox sb-web, container
// c-web) admitted and running an image in reg signed with version 1 of
// the key: a registry only the pod's secret opens. The node has no
// credential for it.
type secretNode struct {
	d     *Daemon
	vault *kmstest.Vault
	reg   *privateRegistry
	api   *podAPI
	tasks *nodeTasks
	clock *fakeClock
	at    *time.Time // the pull-secret source's clock
	img   name.Digest
	logs  *syncedBuffer
}

func newSecretNode(t *testing.T) *secretNode {
	t.Helper()
	v := kmstest.NewVaultKey(t, "release")
	reg := newPrivateRegistry(t, "pw-1")
	img := mustPush(t, reg.host+"/team/app:v1", reg.auth())
	if err := sigtest.SignLegacyWith(v.Signer(t, "release", 1), img, reg.auth()); err != nil {
		t.Fatal(err)
	}
	// A denial is kept 1ms: each judgement here reads the registry again.
	d, logs, _ := kmsDaemon(t, t.TempDir(), fmt.Sprintf("[kms.vault]\naddress = %q\n[cache]\ndeny_ttl = \"1ms\"\n", v.URL))
	cfgWithStop(t, d)
	n := &secretNode{d: d, vault: v, reg: reg, api: newPodAPI(t, reg.host, "pw-1"), img: img, logs: logs}
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	n.at = &at
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.api.srv.Certificate().Raw})
	src, err := podsecrets.New(podsecrets.Settings{Conn: podsecrets.Conn{Server: n.api.srv.URL, CAData: ca, Token: "t"}, Timeout: 5 * time.Second,
		Refresh: time.Minute, Now: func() time.Time { return *n.at }})
	if err != nil {
		t.Fatal(err)
	}
	d.podSecrets.Store(src)
	ref := reg.host + "/team/app:v1"
	d.plugin.Runtime = imagestore.Runtime{Records: podImages{nodeImages{ref: img}, ref}}
	n.tasks = &nodeTasks{running: map[string]bool{"sb-web": true, "c-web": true}, stopped: make(chan string, 4)}
	d.running.tasks = n.tasks
	n.clock = newFakeClock(d)
	pod := &api.PodSandbox{Id: "sb-web", Name: "web", Namespace: "team", Uid: "uid-web"}
	ctr := &api.Container{Id: "c-web", Name: "app", PodSandboxId: "sb-web", Annotations: map[string]string{containers.ImageNameAnnotation: ref}}
	if err := d.plugin.RunPodSandbox(t.Context(), pod); err != nil {
		t.Fatalf("the pod's sandbox, with its pull secret: %v", err)
	}
	if _, _, err := d.plugin.CreateContainer(t.Context(), pod, ctr); err != nil {
		t.Fatalf("the pod's container, with its pull secret: %v", err)
	}
	if err := d.plugin.StartContainer(t.Context(), pod, ctr); err != nil {
		t.Fatal(err)
	}
	return n
}

// revoke makes version 1 of the key untrusted, as a KMS sync learns it.
func (n *secretNode) revoke(t *testing.T) {
	t.Helper()
	n.vault.Rotate(t, "release")
	n.vault.SetMinDecryptionVersion("release", 2)
	if changes, err := n.d.SyncKeys(t.Context()); err != nil || len(changes) == 0 {
		t.Fatalf("sync: %v %v", changes, err)
	}
}

// judge is the loop's judgement at the running clock plus after, by id.
func (n *secretNode) judge(t *testing.T, after time.Duration) map[string]localapi.RunningContainer {
	t.Helper()
	n.clock.mu.Lock()
	n.clock.t = n.clock.t.Add(after)
	n.clock.mu.Unlock()
	out := map[string]localapi.RunningContainer{}
	for _, c := range n.d.JudgeRunning(t.Context(), "test").Containers {
		out[c.ID] = c
	}
	return out
}

// A running container and sandbox admitted with the pod's pull secret are
// judged again with it, looked up again: trusted while the key is, and,
// once the secret has been rotated (new password, new resourceVersion),
// the key's revocation is read with the new one and stops both (a final
// cause, confirmed). Judged with the node's credentials, or the secret as
// it was at admission, the private registry answers 401: registry_error,
// which stops nothing, so the revoked image would run on.
func TestRunningContainerIsJudgedWithItsPodsPullSecrets(t *testing.T) {
	n := newSecretNode(t)
	for id, c := range n.judge(t, 0) {
		if c.Verdict != localapi.RunningTrusted {
			t.Fatalf("%s before the revocation: %s %s: %s", id, c.Verdict, c.Cause, c.Reason)
		}
	}
	n.reg.set("pw-2", false)
	n.api.rotate("pw-2")
	*n.at = n.at.Add(2 * time.Minute) // past refresh: the secret is read again
	n.revoke(t)
	got := n.judge(t, 0)
	for _, id := range []string{"sb-web", "c-web"} {
		if c := got[id]; c.Verdict != localapi.RunningUntrusted || c.Cause != "untrusted" || !strings.HasPrefix(c.Action, "stop pending: confirming untrusted") {
			t.Fatalf("%s after the revocation: %s %s (%s): %s", id, c.Verdict, c.Cause, c.Action, c.Reason)
		}
	}
	n.judge(t, time.Minute)
	want := map[string]bool{"sb-web " + stopGrace.String(): true, "c-web " + stopGrace.String(): true}
	for range want {
		select {
		case s := <-n.tasks.stopped:
			if !want[s] {
				t.Fatalf("stopped %s", s)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("not stopped; log:\n%s", n.logs)
		}
	}
	if strings.Contains(n.logs.String(), "pw-") {
		t.Errorf("the log quotes a registry password:\n%s", n.logs)
	}
}

// Another pod running the same image, naming no secret, is judged with
// the node's credentials only: never with team/web's secret.
func TestRunningContainerIsNeverJudgedWithAnotherPodsSecret(t *testing.T) {
	n := newSecretNode(t)
	other := &api.PodSandbox{Id: "sb-other", Name: "web", Namespace: "other", Uid: "uid-other"}
	n.tasks.mu.Lock()
	n.tasks.running["sb-other"] = true
	n.tasks.mu.Unlock()
	// Known from a (re)connection: it ran before signgate judged it.
	pods := []*api.PodSandbox{{Id: "sb-web", Name: "web", Namespace: "team", Uid: "uid-web"}, other}
	ctrs := []*api.Container{{Id: "c-web", Name: "app", PodSandboxId: "sb-web", State: api.ContainerState_CONTAINER_RUNNING,
		Annotations: map[string]string{containers.ImageNameAnnotation: n.reg.host + "/team/app:v1"}}}
	if _, err := n.d.plugin.Synchronize(t.Context(), pods, ctrs); err != nil {
		t.Fatal(err)
	}
	got := n.judge(t, 0)
	if c := got["sb-other"]; c.Verdict != localapi.RunningUntrusted || c.Cause != "registry_error" || !strings.Contains(c.Reason, "401") {
		t.Fatalf("the other pod's sandbox: %+v", c)
	}
	for _, id := range []string{"sb-web", "c-web"} {
		if c := got[id]; c.Verdict != localapi.RunningTrusted {
			t.Fatalf("%s: %+v", id, c)
		}
	}
}

// An unreachable registry is not a revoked key: the key revoked while
// the pod's registry cannot be read is registry_error, which stops
// nothing, and the loop is to ask again a stop_confirm later on its own
// (TestARegistryErrorIsAskedAgain: and then catches the revocation).
func TestUnreachablePodRegistryStopsNothingAndIsAskedAgain(t *testing.T) {
	n := newSecretNode(t)
	n.judge(t, 0)
	n.reg.set("pw-1", true)
	n.revoke(t)
	for id, c := range n.judge(t, 0) {
		if c.Cause != "registry_error" || !strings.HasPrefix(c.Action, "stop deferred") {
			t.Fatalf("%s with the registry down: %+v", id, c)
		}
	}
	if wait, ok := n.d.running.againDue(); !ok || wait != time.Minute {
		t.Fatalf("the loop is to judge again in %s (%v), want 1m", wait, ok)
	}
	if stopped(n.d, n.tasks) {
		t.Fatal("stopped on a registry error")
	}
}

// While the API server cannot be read (past the 3 refresh periods a
// secret read before is used), a running container and sandbox are judged
// with the credential they were admitted with, not the node's: a
// revocation is still caught, and stops them once confirmed.
func TestRevocationIsCaughtWhileTheAPIServerIsDown(t *testing.T) {
	n := newSecretNode(t)
	n.judge(t, 0)
	n.api.setDown(true)
	*n.at = n.at.Add(10 * time.Minute)
	n.revoke(t)
	for id, c := range n.judge(t, 0) {
		if c.Cause != "untrusted" || !strings.HasPrefix(c.Action, "stop pending: confirming untrusted") {
			t.Fatalf("%s with the API server down: %s (%s): %s", id, c.Cause, c.Action, c.Reason)
		}
	}
	n.judge(t, time.Minute)
	for range 2 {
		select {
		case <-n.tasks.stopped:
		case <-time.After(20 * time.Second):
			t.Fatalf("not stopped; log:\n%s", n.logs)
		}
	}
	if !strings.Contains(n.logs.String(), "pod pull secrets: lookup failed") {
		t.Errorf("the failed lookup is not logged:\n%s", n.logs)
	}
}
