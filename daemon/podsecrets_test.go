package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	nriapi "github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/registry/podsecrets"
)

// The daemon asks the API server for an API pod's secrets, by the UID
// and names NRI gives; a static pod (the kubelet's config.source
// annotation) is not looked up; a failed lookup is logged and counted,
// never quoting a secret, and leaves the pod with the node's credentials.
func TestPodCredentialsFromTheDaemon(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	down := false
	cfg := `{"auths":{"reg.example":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:s3cret-pw")) + `"}}}`
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		d := down
		mu.Unlock()
		switch {
		case d:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/api/v1/namespaces/team/pods/app":
			fmt.Fprint(w, `{"kind":"Pod","metadata":{"uid":"uid-1"},"spec":{"imagePullSecrets":[{"name":"regcred"}]}}`)
		case r.URL.Path == "/api/v1/namespaces/team/secrets/regcred":
			fmt.Fprintf(w, `{"kind":"Secret","metadata":{"namespace":"team","resourceVersion":"3"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":%q}}`, base64.StdEncoding.EncodeToString([]byte(cfg)))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	src, err := podsecrets.New(podsecrets.Settings{Conn: podsecrets.Conn{Server: srv.URL, CAData: ca, Token: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logs, nil)), podLookups: newPodLookups(prometheus.NewRegistry())}
	if d.podCredentials(context.Background(), &nriapi.PodSandbox{Namespace: "team", Name: "app", Uid: "uid-1"}) != nil {
		t.Fatal("credentials while the feature is off")
	}
	d.podSecrets.Store(src)
	repo, _ := name.NewRepository("reg.example/app")
	pc := d.podCredentials(context.Background(), &nriapi.PodSandbox{Namespace: "team", Name: "app", Uid: "uid-1"})
	if _, source, ok := pc.Credential(repo); !ok || source != "pull secret team/regcred" {
		t.Fatalf("the pod's secret: %v %q", ok, source)
	}
	n := len(asked)
	static := &nriapi.PodSandbox{Namespace: "kube-system", Name: "etcd", Uid: "hash", Annotations: map[string]string{"kubernetes.io/config.source": "file"}}
	if pc := d.podCredentials(context.Background(), static); pc.Scope(repo) != "" || len(asked) != n {
		t.Errorf("a static pod was looked up: %v", asked[n:])
	}
	mu.Lock()
	down = true
	mu.Unlock()
	pc = d.podCredentials(context.Background(), &nriapi.PodSandbox{Namespace: "team", Name: "other", Uid: "uid-2"})
	if _, _, ok := pc.Credential(repo); ok {
		t.Error("a credential from a failed lookup")
	}
	if got := testutil.ToFloat64(d.podLookups.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed lookups counted %v", got)
	}
	if got := testutil.ToFloat64(d.podLookups.WithLabelValues("ok")); got != 2 {
		t.Errorf("ok lookups counted %v", got)
	}
	if l := logs.String(); !strings.Contains(l, "pod pull secrets: lookup failed") || !strings.Contains(l, "team/other") || strings.Contains(l, "s3cret") {
		t.Errorf("log:\n%s", l)
	}
}
