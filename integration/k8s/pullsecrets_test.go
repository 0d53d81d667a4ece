package k8s_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/integration/harness"
)

// helmUpgrade changes the installed release's values (the others kept)
// and waits for signgate's DaemonSet to roll.
func helmUpgrade(t *testing.T, set ...string) {
	t.Helper()
	args := []string{"upgrade", "signgate", "../../charts/signgate", "--namespace", "signgate-system", "--reuse-values", "--kubeconfig", C.Kubeconfig}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(os.Getenv("SIGNGATE_HELM"), args...)
	// Helm's caches and config where the harness keeps them.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(C.Dir, "helm/cache"), "HELM_CONFIG_HOME="+filepath.Join(C.Dir, "helm/config"), "HELM_DATA_HOME="+filepath.Join(C.Dir, "helm/data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade %v: %v\n%s", set, err, out)
	}
	kubectl(t, "-n", "signgate-system", "rollout", "status", "ds/signgate", "--timeout=180s")
}

// apiServer is the API server's address as the cluster's kubeconfig names
// it: on loopback, which signgate's pod reaches on the host network (the
// cluster has no kube-proxy for the service IP).
func apiServer(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(C.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`server: (https://\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no server in %s", C.Kubeconfig)
	}
	return string(m[1])
}

// podIn is a pod "app" in ns running img, naming secrets.
func podIn(ns string, img string, secrets ...string) string {
	pull := ""
	if len(secrets) > 0 {
		pull = "  imagePullSecrets: [{name: " + strings.Join(secrets, "}, {name: ") + "}]\n"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: app, namespace: %s, labels: {app: app}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
%s  containers: [{name: app, image: %s, imagePullPolicy: IfNotPresent}]
`, ns, pull, img)
}

// privateImage pushes a signed busybox to a new authenticated registry
// (distribution v3, htpasswd over TLS), its CA where containerd and
// signgate's pod (which mounts /etc/containerd) both find it by the same
// path. It returns the image's reference and the registry's password.
func privateImage(t *testing.T) (host, ref, password string) {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	password = "pw-" + hex.EncodeToString(b)
	reg, err := harness.StartAuthRegistry(t.TempDir(), E.Bin, "robot", password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	host = reg.Host
	certs := filepath.Join("/etc/containerd/certs.d", host)
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(certs) })
	ca, err := os.ReadFile(reg.CA)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := E.RouteRegistry(host, "https://"+host, filepath.Join(certs, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	src, err := harness.PushBusybox(E.Registry+"/pullsecrets-src/app:v1", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := name.ParseReference(host + "/team/app:v1")
	if err := remote.Write(dst, img, reg.Options()...); err != nil {
		t.Fatal(err)
	}
	if err := E.Signers["k1"].SignLegacy(dst.Context().Digest(src.DigestStr()), reg.Options()...); err != nil {
		t.Fatal(err)
	}
	return host, dst.String(), password
}

// With podPullSecrets on (the chart's RBAC, the pod's token), a pod whose
// imagePullSecrets open an authenticated registry (distribution v3,
// htpasswd over TLS) runs, its signature read with its own secret: no
// other credential source knows the registry. The same image on the node,
// in a namespace without the secret, is denied naming the registry and
// its 401; so is a pod naming a secret that exists only in another
// namespace, the denial saying so. The password reaches no log and no
// event.
func TestPodPullSecretsOpenAPrivateRegistry(t *testing.T) {
	need(t)
	host, ref, password := privateImage(t)
	helmUpgrade(t, "podPullSecrets.enabled=true", "podPullSecrets.apiServer="+apiServer(t))
	defer helmUpgrade(t, "podPullSecrets.enabled=false", "podPullSecrets.apiServer=")

	with, without, elsewhere := "ps-with", "ps-without", "ps-elsewhere"
	for _, ns := range []string{with, without, elsewhere} {
		kubectl(t, "create", "namespace", ns)
		defer C.Kubectl("delete", "namespace", ns, "--wait=false")
		if err := harness.WaitFor(time.Minute, func() error {
			_, err := C.Kubectl("-n", ns, "get", "serviceaccount", "default")
			return err
		}); err != nil {
			t.Fatalf("namespace %s has no default service account: %v", ns, err)
		}
	}
	kubectl(t, "-n", with, "create", "secret", "docker-registry", "regcred", "--docker-server="+host, "--docker-username=robot", "--docker-password="+password)

	start := time.Now()
	apply(t, podIn(with, ref, "regcred"))
	if err := C.WaitReady(with, "app=app", 2*time.Minute); err != nil {
		t.Fatalf("the pod with the pull secret: %v\n%s", err, podEvents(t, with, "app"))
	}
	t.Logf("the pod with its pull secret ran in %s", time.Since(start).Round(time.Second))

	// The image is on the node now: the kubelet pulls nothing for these
	// (IfNotPresent), and signgate reads the registry without the secret.
	apply(t, podIn(without, ref))
	msg, events := waiting(t, without, "app", "CreateContainerError")
	// Read for this pod, or for the pull (pre-verification) just before:
	// the same words, true of both.
	for _, want := range []string{"signgate denied image " + ref, "registry " + host + " answered 401 Unauthorized; credentials from none (anonymous: no pod pull secret for " + host + ")"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the pod without the secret: %q lacks %q\nevents:\n%s", msg, want, events)
		}
	}
	apply(t, podIn(elsewhere, ref, "regcred"))
	msg2, events2 := waiting(t, elsewhere, "app", "CreateContainerError")
	for _, want := range []string{"signgate denied image " + ref, "registry " + host + " answered 401 Unauthorized",
		"no pod pull secret for " + host + " (secret regcred not found in namespace " + elsewhere + ")"} {
		if !strings.Contains(msg2, want) {
			t.Errorf("the pod naming another namespace's secret: %q lacks %q\nevents:\n%s", msg2, want, events2)
		}
	}

	t.Logf("denied without the secret: %s", msg)
	t.Logf("denied naming another namespace's secret: %s", msg2)
	logs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")
	for what, s := range map[string]string{"signgate's log": logs, "the events": events + events2, "the denials": msg + msg2} {
		if strings.Contains(s, password) {
			t.Errorf("%s quote the registry password", what)
		}
	}
}

// With podPullSecrets.ofServiceAccount (get on serviceaccounts too), the
// secrets a pod's service account names now count, though the API server
// did not copy them into the pod (they were given to the account after
// the pod was made): the pod's spec names none, and it runs.
func TestPodPullSecretsOfTheServiceAccount(t *testing.T) {
	need(t)
	host, ref, password := privateImage(t)
	// On the node ahead (the kubelet pulls with the pod's own secrets,
	// and this pod names none).
	if out, err := E.Crictl("pull", "--creds", "robot:"+password, ref); err != nil {
		t.Fatalf("crictl pull: %v: %s", err, out)
	}
	helmUpgrade(t, "podPullSecrets.enabled=true", "podPullSecrets.ofServiceAccount=true", "podPullSecrets.apiServer="+apiServer(t))
	defer helmUpgrade(t, "podPullSecrets.enabled=false", "podPullSecrets.ofServiceAccount=false", "podPullSecrets.apiServer=")

	ns := "ps-sa"
	kubectl(t, "create", "namespace", ns)
	defer C.Kubectl("delete", "namespace", ns, "--wait=false")
	if err := harness.WaitFor(time.Minute, func() error {
		_, err := C.Kubectl("-n", ns, "get", "serviceaccount", "default")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Made while its service account names no secret, and held back from
	// the node (a scheduling gate) until the account names one.
	apply(t, strings.Replace(podIn(ns, ref), "  containers:", "  schedulingGates: [{name: signgate.dev/test}]\n  containers:", 1))
	kubectl(t, "-n", ns, "create", "secret", "docker-registry", "regcred", "--docker-server="+host, "--docker-username=robot", "--docker-password="+password)
	kubectl(t, "-n", ns, "patch", "serviceaccount", "default", "-p", `{"imagePullSecrets":[{"name":"regcred"}]}`)
	kubectl(t, "-n", ns, "patch", "pod", "app", "--type=json", "-p", `[{"op":"remove","path":"/spec/schedulingGates"}]`)
	if err := C.WaitReady(ns, "app=app", 2*time.Minute); err != nil {
		t.Fatalf("the pod whose service account names the secret: %v\n%s", err, podEvents(t, ns, "app"))
	}
	if got := kubectl(t, "-n", ns, "get", "pod", "app", "-o", "jsonpath={.spec.imagePullSecrets}"); got != "" {
		t.Fatalf("the pod names secrets itself (%s): the test proves nothing", got)
	}
}
