package podsecrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// fakeAPI is an API server holding objects by path, that records every
// path asked for and the bearer token it came with.
type fakeAPI struct {
	srv *httptest.Server
	mu  sync.Mutex
	obj map[string]func(w http.ResponseWriter)
	got []string
}

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	f := &fakeAPI{obj: map[string]func(http.ResponseWriter){}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got = append(f.got, r.Method+" "+r.URL.Path)
		h := f.obj[r.URL.Path]
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sa-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"kind":"Status","message":"%s not found"}`, r.URL.Path)
			return
		}
		h(w)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) set(path string, v any) {
	b, _ := json.Marshal(v)
	f.setRaw(path, func(w http.ResponseWriter) { w.Write(b) })
}

func (f *fakeAPI) setRaw(path string, h func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.obj[path] = h
}

func (f *fakeAPI) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeAPI) pod(ns, name, uid string, secrets ...string) {
	var refs []map[string]string
	for _, s := range secrets {
		refs = append(refs, map[string]string{"name": s})
	}
	f.set("/api/v1/namespaces/"+ns+"/pods/"+name, map[string]any{
		"kind": "Pod", "metadata": map[string]any{"name": name, "namespace": ns, "uid": uid},
		"spec": map[string]any{"imagePullSecrets": refs, "serviceAccountName": "builder"},
	})
}

// secret stores a kubernetes.io/dockerconfigjson secret giving user:pass
// for host.
func (f *fakeAPI) secret(ns, name, rv, host, user, pass string) {
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	f.set("/api/v1/namespaces/"+ns+"/secrets/"+name, map[string]any{
		"kind": "Secret", "metadata": map[string]any{"name": name, "namespace": ns, "resourceVersion": rv},
		"type": "kubernetes.io/dockerconfigjson",
		"data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(cfg))},
	})
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func (f *fakeAPI) source(t testing.TB, sa bool) (*Source, *clock) {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Settings{Conn: Conn{Server: f.srv.URL, CAData: ca, Token: "sa-token"}, ServiceAccount: sa, Timeout: 5 * time.Second, Refresh: time.Minute, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func repo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// userOf is the username and password a's credential sends.
func userOf(t *testing.T, a authn.Authenticator) string {
	t.Helper()
	c, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return c.Username + ":" + c.Password
}

const host = "reg.example:5000"

// The pod's own secret gives the credential for its registry, and names
// itself (never its content) as the source and the scope.
func TestPodSecretGivesTheCredential(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	f.secret("team", "regcred", "7", host, "robot", "s3cret-pw")
	s, _ := f.source(t, false)
	pull, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	if err != nil {
		t.Fatal(err)
	}
	a, source, ok := pull.Credential(repo(t, host+"/apps/x"))
	if !ok || userOf(t, a) != "robot:s3cret-pw" {
		t.Fatalf("no credential for %s: %v %q", host, ok, source)
	}
	if source != "pull secret team/regcred" {
		t.Errorf("source %q", source)
	}
	if got := pull.Scope(repo(t, host+"/apps/x")); got != "secret:team/regcred@7" {
		t.Errorf("scope %q", got)
	}
	other := repo(t, "other.example/apps/x")
	if _, _, ok := pull.Credential(other); ok || pull.Scope(other) != "" {
		t.Error("a credential for a registry the secret does not name")
	}
	if n := pull.None(other); n != "no pod pull secret for other.example" {
		t.Errorf("None: %q", n)
	}
	want := []string{"GET /api/v1/namespaces/team/pods/app", "GET /api/v1/namespaces/team/secrets/regcred"}
	if got := f.asked(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("asked %v, want %v (no service account unless asked)", got, want)
	}
	// Asked again: the pod by UID and the secret within Refresh are kept.
	if _, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"}); err != nil || len(f.asked()) != 2 {
		t.Errorf("asked again: %v %v", err, f.asked())
	}
}

// A pod recreated under the same name is another pod: the NRI pod's UID
// is not the API server's, and the new pod's secrets are not the old
// one's. The answer for one UID never serves another.
func TestAnotherPodOfTheSameNameGetsNoSecret(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-new", "regcred")
	f.secret("team", "regcred", "7", host, "robot", "s3cret-pw")
	s, _ := f.source(t, false)
	old, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := old.Credential(repo(t, host+"/apps/x")); ok {
		t.Fatal("the old pod got the new pod's secret")
	}
	if n := old.None(repo(t, host+"/apps/x")); !strings.Contains(n, "is another pod (UID uid-new, not uid-old)") {
		t.Errorf("None: %q", n)
	}
	for _, p := range f.asked() {
		if strings.Contains(p, "/secrets/") {
			t.Errorf("a secret was read for the wrong pod: %s", p)
		}
	}
	nw, _ := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-new"})
	if _, _, ok := nw.Credential(repo(t, host+"/apps/x")); !ok {
		t.Error("the pod of that UID has no credential")
	}
}

// A secret the pod names is looked for in the pod's namespace only: one
// of that name in another namespace is never read.
func TestSecretOfAnotherNamespaceIsNotRead(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team-a", "app", "uid-1", "regcred")
	f.secret("team-b", "regcred", "7", host, "robot", "s3cret-pw")
	s, _ := f.source(t, false)
	pull, err := s.ForPod(context.Background(), Pod{Namespace: "team-a", Name: "app", UID: "uid-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := pull.Credential(repo(t, host+"/apps/x")); ok {
		t.Fatal("team-a's pod got team-b's secret")
	}
	if n := pull.None(repo(t, host+"/apps/x")); !strings.Contains(n, "secret regcred not found in namespace team-a") {
		t.Errorf("None: %q", n)
	}
	for _, p := range f.asked() {
		if strings.Contains(p, "team-b") {
			t.Errorf("asked for %s", p)
		}
	}
	// The denial names the missing secret, so it is kept apart from the
	// node's (scope ""), and shared only by pods it is true of.
	r := repo(t, host+"/apps/x")
	f.pod("team-a", "app2", "uid-2", "regcred")
	f.pod("team-a", "plain", "uid-3")
	twin, _ := s.ForPod(context.Background(), Pod{Namespace: "team-a", Name: "app2", UID: "uid-2"})
	plain, _ := s.ForPod(context.Background(), Pod{Namespace: "team-a", Name: "plain", UID: "uid-3"})
	if sc := pull.Scope(r); sc == "" || sc != twin.Scope(r) || plain.Scope(r) != "" {
		t.Errorf("scopes: %q, its twin %q, a pod naming none %q", sc, twin.Scope(r), plain.Scope(r))
	}
	// An API server that answered with another namespace's object is not
	// believed either.
	f.setRaw("/api/v1/namespaces/team-a/secrets/regcred", func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"kind":"Secret","metadata":{"namespace":"team-b","resourceVersion":"1"},"type":"kubernetes.io/dockerconfigjson","data":{}}`)
	})
	s2, _ := f.source(t, false)
	pull, _ = s2.ForPod(context.Background(), Pod{Namespace: "team-a", Name: "app", UID: "uid-1"})
	if n := pull.None(repo(t, host+"/apps/x")); !strings.Contains(n, `answered with namespace "team-b"'s`) {
		t.Errorf("None: %q", n)
	}
}

// An answer larger than a secret can be is refused, announced or not,
// and the pod is left with no secret.
func TestOversizedAnswerIsRefused(t *testing.T) {
	t.Parallel()
	for _, announced := range []bool{true, false} {
		f := newFakeAPI(t)
		f.pod("team", "app", "uid-1", "big")
		f.setRaw("/api/v1/namespaces/team/secrets/big", func(w http.ResponseWriter) {
			if announced {
				w.Header().Set("Content-Length", fmt.Sprint(MaxResponseBytes+10))
			}
			w.WriteHeader(http.StatusOK)
			chunk := strings.Repeat("x", 64<<10)
			for i := 0; i < MaxResponseBytes/len(chunk)+2; i++ {
				if _, err := fmt.Fprint(w, chunk); err != nil {
					return
				}
			}
		})
		s, _ := f.source(t, false)
		pull, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("exceeds the %d-byte limit", MaxResponseBytes)) {
			t.Errorf("announced %v: %v", announced, err)
		}
		if _, _, ok := pull.Credential(repo(t, host+"/apps/x")); ok {
			t.Errorf("announced %v: a credential from an oversized answer", announced)
		}
	}
}

// A 403 (signgate's RBAC does not reach secrets) is an error naming the
// status, the object and where the RBAC is explained.
func TestForbiddenIsNamed(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	f.setRaw("/api/v1/namespaces/team/secrets/regcred", func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","message":"secrets \"regcred\" is forbidden: User \"system:serviceaccount:signgate-system:signgate\" cannot get resource \"secrets\""}`)
	})
	s, _ := f.source(t, false)
	pull, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	msg := fmt.Sprint(err)
	for _, want := range []string{"GET /api/v1/namespaces/team/secrets/regcred: 403 Forbidden", `cannot get resource "secrets"`, "docs/install.md"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if n := pull.None(repo(t, host+"/apps/x")); !strings.Contains(n, "403 Forbidden") {
		t.Errorf("None: %q", n)
	}
	// The pod itself forbidden: the same, and nothing further is asked.
	f2 := newFakeAPI(t)
	f2.setRaw("/api/v1/namespaces/team/pods/app", func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) })
	s2, _ := f2.source(t, false)
	if _, err := s2.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"}); err == nil || !strings.Contains(err.Error(), "403") || len(f2.asked()) != 1 {
		t.Errorf("pod forbidden: %v, asked %v", err, f2.asked())
	}
}

// A secret is used for Refresh, then read again: a rotated secret (a new
// resourceVersion) gives its new credential and a new scope, so no
// verdict made with the old one is reused for it. An API server down at
// refresh leaves the last secret read in use.
func TestSecretsAreRefreshed(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	f.secret("team", "regcred", "7", host, "robot", "old-pw")
	s, c := f.source(t, false)
	pod := Pod{Namespace: "team", Name: "app", UID: "uid-1"}
	r := repo(t, host+"/apps/x")
	check := func(wantUser, wantScope string) {
		t.Helper()
		pull, _ := s.ForPod(context.Background(), pod)
		a, _, ok := pull.Credential(r)
		if !ok || userOf(t, a) != wantUser || pull.Scope(r) != wantScope {
			t.Fatalf("got %v %q, want %s %s", ok, pull.Scope(r), wantUser, wantScope)
		}
	}
	check("robot:old-pw", "secret:team/regcred@7")
	f.secret("team", "regcred", "8", host, "robot", "new-pw")
	c.t = c.t.Add(59 * time.Second)
	check("robot:old-pw", "secret:team/regcred@7")
	c.t = c.t.Add(2 * time.Second)
	check("robot:new-pw", "secret:team/regcred@8")

	f.setRaw("/api/v1/namespaces/team/secrets/regcred", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	c.t = c.t.Add(2 * time.Minute)
	pull, err := s.ForPod(context.Background(), pod)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("the failed refresh is not reported: %v", err)
	}
	if a, _, ok := pull.Credential(r); !ok || userOf(t, a) != "robot:new-pw" {
		t.Error("the last secret read is not kept while the API server fails")
	}
	// Deleted: a 404 is an answer, and the secret is no longer used.
	f.mu.Lock()
	delete(f.obj, "/api/v1/namespaces/team/secrets/regcred")
	f.mu.Unlock()
	c.t = c.t.Add(2 * time.Minute)
	pull, _ = s.ForPod(context.Background(), pod)
	if _, _, ok := pull.Credential(r); ok {
		t.Error("a deleted secret is still used")
	}
}

// Only docker-config secrets count (as for the kubelet); any other, or
// one that does not parse, is skipped with a note that never quotes it.
func TestOnlyDockerConfigSecrets(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "opaque", "broken", "legacy")
	f.set("/api/v1/namespaces/team/secrets/opaque", map[string]any{
		"kind": "Secret", "metadata": map[string]any{"namespace": "team", "resourceVersion": "1"}, "type": "Opaque",
		"data": map[string]string{"password": base64.StdEncoding.EncodeToString([]byte("opaque-pw"))},
	})
	f.set("/api/v1/namespaces/team/secrets/broken", map[string]any{
		"kind": "Secret", "metadata": map[string]any{"namespace": "team", "resourceVersion": "1"}, "type": "kubernetes.io/dockerconfigjson",
		"data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(`{"auths": "broken-pw`))},
	})
	legacy := fmt.Sprintf(`{"https://%s":{"username":"old","password":"legacy-pw"}}`, host)
	f.set("/api/v1/namespaces/team/secrets/legacy", map[string]any{
		"kind": "Secret", "metadata": map[string]any{"namespace": "team", "resourceVersion": "3"}, "type": "kubernetes.io/dockercfg",
		"data": map[string]string{".dockercfg": base64.StdEncoding.EncodeToString([]byte(legacy))},
	})
	s, _ := f.source(t, false)
	pull, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	if err != nil {
		t.Fatal(err)
	}
	a, source, ok := pull.Credential(repo(t, host+"/apps/x"))
	if !ok || userOf(t, a) != "old:legacy-pw" || source != "pull secret team/legacy" {
		t.Fatalf("the dockercfg secret: %v %q", ok, source)
	}
	n := pull.None(repo(t, "other.example/xy"))
	for _, want := range []string{`secret team/opaque is of type "Opaque"`, "secret team/broken: .dockerconfigjson is not a docker config"} {
		if !strings.Contains(n, want) {
			t.Errorf("None %q lacks %q", n, want)
		}
	}
	if strings.Contains(n, "pw") {
		t.Errorf("a note quotes a secret: %q", n)
	}
}

// The service account's secrets only when asked for (get on
// serviceaccounts is RBAC of its own); a static pod asks nothing.
func TestServiceAccountAndStaticPods(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1")
	f.set("/api/v1/namespaces/team/serviceaccounts/builder", map[string]any{"imagePullSecrets": []map[string]string{{"name": "sa-cred"}}})
	f.secret("team", "sa-cred", "2", host, "sa", "sa-pw")
	pod := Pod{Namespace: "team", Name: "app", UID: "uid-1"}
	off, _ := f.source(t, false)
	pull, _ := off.ForPod(context.Background(), pod)
	if _, _, ok := pull.Credential(repo(t, host+"/app")); ok || strings.Contains(fmt.Sprint(f.asked()), "serviceaccounts") {
		t.Errorf("the service account was read though not asked for: %v", f.asked())
	}
	on, _ := f.source(t, true)
	pull, _ = on.ForPod(context.Background(), pod)
	if a, _, ok := pull.Credential(repo(t, host+"/app")); !ok || userOf(t, a) != "sa:sa-pw" {
		t.Error("the service account's secret is not used")
	}
	before := len(f.asked())
	pull, err := on.ForPod(context.Background(), Pod{Namespace: "kube-system", Name: "etcd-node", UID: "hash", Static: true})
	if err != nil || len(f.asked()) != before || pull.Scope(repo(t, host+"/app")) != "" {
		t.Errorf("a static pod: %v, asked %v", err, f.asked()[before:])
	}
}

// An API server slower than the lookup's timeout fails the lookup in
// time, not the decision's whole deadline.
func TestLookupIsBoundedByTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.setRaw("/api/v1/namespaces/team/pods/app", func(http.ResponseWriter) { <-release })
	s, _ := f.source(t, false)
	s.s.Timeout = 100 * time.Millisecond
	start := time.Now()
	_, err := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}
