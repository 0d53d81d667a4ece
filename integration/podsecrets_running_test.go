package integration

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/signgate/signgate/integration/harness"
)

// podSecretsAPI is an API server for [registry.pod_pull_secrets]: every
// pod podN of namespace ns has the UID uid-N the harness gives it
// (harness.Env.Pod) and names the secret regcred, which gives user:pw
// for host at resourceVersion rv.
type podSecretsAPI struct {
	srv            *httptest.Server
	mu             sync.Mutex
	ns, host, user string
	pw             string
	rv             int
}

func newPodSecretsAPI(t *testing.T, ns, host, user, pw string) *podSecretsAPI {
	t.Helper()
	a := &podSecretsAPI{ns: ns, host: host, user: user, pw: pw, rv: 1}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		pods, secret := "/api/v1/namespaces/"+a.ns+"/pods/pod", "/api/v1/namespaces/"+a.ns+"/secrets/regcred"
		switch {
		case strings.HasPrefix(r.URL.Path, pods):
			n := strings.TrimPrefix(r.URL.Path, pods)
			fmt.Fprintf(w, `{"kind":"Pod","metadata":{"uid":"uid-%s"},"spec":{"imagePullSecrets":[{"name":"regcred"}]}}`, n)
		case r.URL.Path == secret:
			cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, a.host, base64.StdEncoding.EncodeToString([]byte(a.user+":"+a.pw)))
			b, _ := json.Marshal(map[string]any{"kind": "Secret", "metadata": map[string]any{"namespace": a.ns, "resourceVersion": fmt.Sprint(a.rv)},
				"type": "kubernetes.io/dockerconfigjson", "data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(cfg))}})
			w.Write(b)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// kubeconfig writes a kubeconfig for the API server into dir.
func (a *podSecretsAPI) kubeconfig(t *testing.T, dir string) string {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
clusters: [{name: test, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: test, user: {token: test-token}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
`, a.srv.URL, base64.StdEncoding.EncodeToString(ca))
	p := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rotate gives the secret a new password, as `kubectl apply` of a new
// one would (a new resourceVersion).
func (a *podSecretsAPI) rotate(pw string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pw, a.rv = pw, a.rv+1
}

// runningPullSecret is a container running an image only its pod's
// pull secret reads, admitted under a "private" policy with stop.
type runningPullSecret struct {
	e   *env
	dir string // the registry's (its htpasswd)
	api *podSecretsAPI
	p   *private
	id  string
	cfg func(keys string) func(string) string
	pw1 string
}

func runningWithPullSecret(t *testing.T, ns string) runningPullSecret {
	t.Helper()
	e := need(t)
	pw1 := secret(t)
	dir := t.TempDir()
	reg, err := harness.StartAuthRegistry(dir, e.Bin, "robot", pw1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	if err := e.RouteRegistry(reg.Host, "https://"+reg.Host, reg.CA); err != nil {
		t.Fatal(err)
	}
	p := pushNamed(t, e, reg, reg.Host, "team/app")
	p.pull(t, e)
	api := newPodSecretsAPI(t, ns, reg.Host, "robot", pw1)
	kubeconfig := api.kubeconfig(t, t.TempDir())
	cfg := func(keys string) func(string) string {
		return func(string) string {
			c := privateConfigFor(e, reg.Host, "", fmt.Sprintf("\n[registry.pod_pull_secrets]\nenabled = true\nkubeconfig = %q\nrefresh = \"1s\"\n", kubeconfig))
			policy := "name = \"private\"\nscopes = [\"" + reg.Host + "/**\"]\n"
			out := strings.Replace(c, policy, policy+"on_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\n", 1)
			out = strings.Replace(out, "on_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\n  [policy.cosign]\n  keys = [\"k1\"]", "on_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\n  [policy.cosign]\n  keys = [\""+keys+"\"]", 1)
			if !strings.Contains(out, "stop_confirm = \"2s\"\n  [policy.cosign]\n  keys = [\""+keys+"\"]") {
				t.Fatalf("the test's config has no private policy to change:\n%s", out)
			}
			return out
		}
	}
	e.withConfig(cfg("k1"))
	pod, podCfg := e.pod(ns)
	t.Cleanup(func() { e.Crictl("rmp", "-f", pod) })
	id, err := e.Create(pod, podCfg, p.ref)
	mustAllow(t, id, err)
	e.mustRun(id)
	if rc, _, _ := e.ps(id); rc.Verdict != "trusted" || rc.Policy != "private" {
		t.Fatalf("signgate ps before the change: %+v", rc)
	}

	return runningPullSecret{e: e, dir: dir, api: api, p: p, id: id, cfg: cfg, pw1: pw1}
}

// A container whose image only its pod's pull secret reads (an
// authenticated registry the node has no credential for), admitted with
// that secret, then the secret rotated (the registry takes only the new
// password) and the policy tightened (k2 required, as a key revoked),
// under on_untrusted_running = "stop": it is judged again with its pod's
// secret read again, and stopped. Judged with the node's credentials, or
// the secret as read at admission, the registry's 401 was a
// registry_error, which stops nothing: the container ran on.
func TestRunningContainerJudgedWithItsRotatedPullSecret(t *testing.T) {
	pw2 := secret(t)
	r := runningWithPullSecret(t, "ps-running")
	e, dir, api, p, id, cfg, pw1 := r.e, r.dir, r.api, r.p, r.id, r.cfg, r.pw1

	// The registry takes the new password only (distribution reads its
	// htpasswd file again when it changes), and the secret gives it.
	hash, err := bcrypt.GenerateFromPassword([]byte(pw2), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("robot:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api.rotate(pw2)
	mark := e.logMark()
	e.withConfig(cfg("k2"))
	if err := harness.WaitFor(60*time.Second, func() error {
		if s := e.state(id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the container whose image its policy no longer trusts is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	if len(e.logLines(mark, "stopped a running container its policy no longer trusts", "id="+id, "digest="+p.d.DigestStr())) == 0 {
		t.Fatalf("no log line for the stop:\n%s", e.logSince(mark))
	}
	noSecrets(t, e, "", pw1, pw2)
}

// The pod's secret rotated to a password the registry refuses (whoever
// can write a secret in the namespace can), while the registry still
// takes the one the container was admitted with, then the policy
// tightened under stop: the refused secret's 401 (registry_error, which
// stops nothing) does not hide it; the admission's credential reads the
// signatures, and the container is stopped.
func TestRunningContainerStoppedThoughItsSecretWasRotatedAway(t *testing.T) {
	bogus := secret(t)
	r := runningWithPullSecret(t, "ps-rotated-away")
	e, id := r.e, r.id
	r.api.rotate(bogus) // the registry still takes only pw1
	mark := e.logMark()
	e.withConfig(r.cfg("k2"))
	if err := harness.WaitFor(60*time.Second, func() error {
		if s := e.state(id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the container whose image its policy no longer trusts is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	if len(e.logLines(mark, "stopped a running container its policy no longer trusts", "id="+id, "digest="+r.p.d.DigestStr())) == 0 {
		t.Fatalf("no log line for the stop:\n%s", e.logSince(mark))
	}
	noSecrets(t, e, "", r.pw1, bogus)
}
