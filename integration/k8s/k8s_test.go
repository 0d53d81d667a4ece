// Package k8s_test runs signgate as its users do on Kubernetes: the chart
// (charts/signgate, with helm install; it renders the objects of
// packaging/kubernetes/signgate.yaml) on a one-node cluster built
// from the module proxy (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, the kubelet), on a real containerd whose NRI validator
// requires signgate (packaging/kubernetes/containerd-daemonset.toml), with
// every check made through the API server. make k8s-test runs it.
package k8s_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

var (
	E        *harness.Env
	C        *harness.Cluster
	signgate name.Digest // the image the DaemonSet runs
	manifest string      // signgate.yaml as applied
)

func TestMain(m *testing.M) {
	bin, k8s, layout := os.Getenv("SIGNGATE_TEST_BIN"), os.Getenv("SIGNGATE_K8S_BIN"), os.Getenv("SIGNGATE_IMAGE_LAYOUT")
	if bin == "" || k8s == "" || layout == "" || os.Getenv("SIGNGATE_HELM") == "" {
		fmt.Println("k8s: SIGNGATE_TEST_BIN, SIGNGATE_K8S_BIN, SIGNGATE_IMAGE_LAYOUT or SIGNGATE_HELM is not set; run `make k8s-test`")
		os.Exit(m.Run()) // the tests skip themselves
	}
	code, err := run(m, bin, k8s, layout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s setup:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M, bin, k8s, layout string) (code int, err error) {
	defer func() {
		if code != 0 || err != nil {
			dump()
		}
		if C != nil {
			C.Stop()
		}
		if E != nil {
			E.Stop()
		}
	}()
	E, C, manifest, err = harness.StartKubernetes(harness.KubernetesSetup{Bin: bin, Containerd: os.Getenv("SIGNGATE_CONTAINERD"),
		K8sBin: k8s, Layout: layout, Repo: "../..", Helm: os.Getenv("SIGNGATE_HELM")}, func(s string) { fmt.Println("k8s:", s) })
	if err != nil {
		return 1, err
	}
	if signgate, err = harness.SigngateImage(manifest); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

func dump() {
	if C != nil {
		for _, args := range [][]string{
			{"get", "pods", "-A", "-o", "wide"},
			{"get", "events", "-A", "--sort-by=.lastTimestamp"},
			{"-n", "signgate-system", "logs", "-l", "app.kubernetes.io/name=signgate", "--tail", "80"},
		} {
			out, _ := C.Kubectl(args...)
			fmt.Fprintf(os.Stderr, "=== kubectl %s ===\n%s\n", strings.Join(args, " "), out)
		}
		for _, f := range []string{"kubelet.log", "kube-apiserver.log"} {
			if b, err := os.ReadFile(filepath.Join(E.Dir, f)); err == nil {
				lines := strings.Split(string(b), "\n")
				fmt.Fprintf(os.Stderr, "=== %s (tail) ===\n%s\n", f, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	}
	if E != nil {
		E.Dump()
	}
}

func need(t *testing.T) {
	t.Helper()
	if C == nil {
		testenv.Skip(t, "the cluster is not set up (make k8s-test)")
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := C.Kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func apply(t *testing.T, yaml string) {
	t.Helper()
	if err := C.Apply(yaml); err != nil {
		t.Fatal(err)
	}
}

func image(t *testing.T, repo string, keys ...string) name.Digest {
	t.Helper()
	d, err := E.Image(repo, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// deployment is one host-network replica of image in default; the
// Deployment, its pods' label app and its container are named name.
func deployment(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: default}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      hostNetwork: true
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      containers:
      - name: %[1]s
        image: %[2]s
`, name, image)
}

// waiting waits until the pod labelled app=name in ns shows its container
// waiting with reason, and returns the message and the pod's events.
func waiting(t *testing.T, ns, app, reason string) (msg, events string) {
	t.Helper()
	var pod string
	err := harness.WaitFor(2*time.Minute, func() error {
		out, err := C.Kubectl("-n", ns, "get", "pods", "-l", "app="+app, "-o",
			`jsonpath={.items[0].metadata.name}|{.items[0].status.containerStatuses[0].state.waiting.reason}|{.items[0].status.containerStatuses[0].state.waiting.message}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		parts := strings.SplitN(out, "|", 3)
		if len(parts) != 3 || parts[1] != reason {
			return fmt.Errorf("pod app=%s: %q", app, out)
		}
		pod, msg = parts[0], parts[2]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg, podEvents(t, ns, pod)
}

func podEvents(t *testing.T, ns, pod string) string {
	t.Helper()
	return kubectl(t, "-n", ns, "get", "events", "--field-selector", "involvedObject.name="+pod,
		"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
}

// The chart's DaemonSet started signgate on a node that already required
// it (TestMain waited for its pod to be Ready): through the bootstrap
// annotation, on the node's network, before any pod network existed.
func TestSigngateRunsFromTheShippedDaemonSet(t *testing.T) {
	need(t)
	out := kubectl(t, "-n", "signgate-system", "get", "pods", "-l", "app.kubernetes.io/name=signgate", "-o",
		`jsonpath={.items[0].spec.hostNetwork} {.items[0].metadata.annotations.signgate\.dev/bootstrap} {.items[0].status.containerStatuses[0].imageID}`)
	if want := fmt.Sprintf("true true %s", signgate); out != want {
		t.Fatalf("signgate's pod: got %q, want %q", out, want)
	}
	logs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")
	if !strings.Contains(logs, "connected to NRI") {
		t.Fatalf("signgate's log does not say it connected:\n%s", logs)
	}
}

func TestSignedDeploymentRunsUnsignedIsRefused(t *testing.T) {
	need(t)
	signed, unsigned := image(t, "apps/signed", "k1"), image(t, "apps/unsigned")
	apply(t, deployment("signed", signed.Context().Tag("v1").String()))
	apply(t, deployment("unsigned", unsigned.Context().Tag("v1").String()))
	if out, err := C.Kubectl("rollout", "status", "deployment/signed", "--timeout=120s"); err != nil {
		t.Fatalf("the signed Deployment: %v: %s", err, out)
	}
	msg, events := waiting(t, "default", "unsigned", "CreateContainerError")
	for _, s := range []string{msg, events} {
		if !strings.Contains(s, "signgate denied image "+unsigned.Context().Tag("v1").String()) || !strings.Contains(s, unsigned.DigestStr()) {
			t.Fatalf("the refusal does not carry signgate's reason:\nmessage: %s\nevents:\n%s", msg, events)
		}
	}
}

// A registry slower than the decision deadline: signgate answers "retry"
// while it verifies on, and the kubelet's own retry is admitted from the
// verdict it then has. Nobody does anything.
func TestSlowFirstVerificationIsAdmittedOnTheKubeletsRetry(t *testing.T) {
	need(t)
	// Slow from the start, and pulled by the kubelet itself: the
	// verification the pull sets off (pre-verification) is still going
	// when the kubelet creates, a moment later. (Pulled ahead of time, a
	// fast runtime could finish it first.)
	E.Proxy.Delay("slow/app", time.Second)
	defer E.Proxy.Delay("", 0)
	img, err := harness.PushBusybox(E.Registry+"/slow/app:v1", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	if err := E.Signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	apply(t, deployment("slow", img.Context().Tag("v1").String()))
	if out, err := C.Kubectl("rollout", "status", "deployment/slow", "--timeout=120s"); err != nil {
		t.Fatalf("the slow Deployment: %v: %s", err, out)
	}
	pod := kubectl(t, "get", "pods", "-l", "app=slow", "-o", "jsonpath={.items[0].metadata.name}")
	if ev := podEvents(t, "default", pod); !strings.Contains(ev, "still in progress") || !strings.Contains(ev, "retry shortly") {
		t.Fatalf("the first attempt was not answered \"retry\" (was the registry slow enough?):\n%s", ev)
	}
}

// The admission policy in signgate.yaml keeps the bootstrap annotation
// (which lets a pod start without signgate) to signgate's own pods.
func TestBootstrapAnnotationIsReservedForSigngate(t *testing.T) {
	need(t)
	pod := func(ns, labels string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: sneaky
  namespace: %s
  labels: {%s}
  annotations: {signgate.dev/bootstrap: "true"}
spec:
  containers: [{name: app, image: %s/apps/unsigned:v1}]
`, ns, labels, E.Registry)
	}
	for _, c := range []struct{ ns, labels string }{
		{"default", "app.kubernetes.io/name: signgate"}, // signgate's label, another namespace
		{"signgate-system", "app: sneaky"},              // signgate's namespace, another label
		// Namespace and label right, but made by a user, not the
		// DaemonSet controller: a pod that would start while signgate is
		// absent, unverified.
		{"signgate-system", "app.kubernetes.io/name: signgate"},
	} {
		out, err := C.KubectlIn(pod(c.ns, c.labels), "create", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(out, "reserved for signgate's own pods") {
			t.Fatalf("a pod in %s labelled %s with the bootstrap annotation: %v: %s", c.ns, c.labels, err, out)
		}
	}
	// Without the annotation the same pod is admitted (and then gated).
	out, err := C.KubectlIn(strings.Replace(pod("default", "app: sneaky"), `annotations: {signgate.dev/bootstrap: "true"}`, "", 1), "create", "--dry-run=server", "-f", "-")
	if err != nil {
		t.Fatalf("a plain pod was refused: %v: %s", err, out)
	}
}

// Static pods never pass the API server's admission; the node gate sees
// them like any other.
func TestStaticPodsAreGated(t *testing.T) {
	need(t)
	signed, unsigned := image(t, "static/signed", "k1"), image(t, "static/unsigned")
	for n, img := range map[string]name.Digest{"static-signed": signed, "static-unsigned": unsigned} {
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %[1]s, namespace: default, labels: {app: %[1]s}}\nspec:\n  hostNetwork: true\n  terminationGracePeriodSeconds: 1\n  containers: [{name: app, image: %[2]s}]\n", n, img.Context().Tag("v1"))
		if err := os.WriteFile(filepath.Join(C.StaticPods, n+".yaml"), []byte(pod), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(C.StaticPods, n+".yaml"))
	}
	if err := C.WaitReady("default", "app=static-signed", 2*time.Minute); err != nil {
		t.Fatalf("the signed static pod: %v", err)
	}
	msg, _ := waiting(t, "default", "static-unsigned", "CreateContainerError")
	if !strings.Contains(msg, "signgate denied image "+unsigned.Context().Tag("v1").String()) {
		t.Fatalf("the unsigned static pod: %s", msg)
	}
}

// An image volume (`volumes: - image:`) runs the volume image's files in a
// signed container: it is verified like the container's own image.
func TestImageVolumesAreGated(t *testing.T) {
	need(t)
	app, signedVol, unsignedVol := image(t, "vol/app", "k1"), image(t, "vol/data-signed", "k1"), image(t, "vol/data-unsigned")
	pod := func(n string, vol name.Digest) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, namespace: default, labels: {app: %[1]s}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %[2]s
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    image: {reference: %[3]s, pullPolicy: IfNotPresent}
`, n, app.Context().Tag("v1"), vol.Context().Tag("v1"))
	}
	apply(t, pod("vol-signed", signedVol))
	apply(t, pod("vol-unsigned", unsignedVol))
	if err := C.WaitReady("default", "app=vol-signed", 2*time.Minute); err != nil {
		t.Fatalf("the pod with a signed image volume: %v", err)
	}
	msg, _ := waiting(t, "default", "vol-unsigned", "CreateContainerError")
	if !strings.Contains(msg, "signgate denied image "+unsignedVol.Context().String()) || !strings.Contains(msg, unsignedVol.DigestStr()) || !strings.Contains(msg, "image volume at /data") {
		t.Fatalf("the pod with an unsigned image volume: %s", msg)
	}
}

// docs/operations.md: edit the ConfigMap and the policy takes effect, with
// no restart and no exec into the pod.
func TestConfigMapEditTakesEffect(t *testing.T) {
	need(t)
	img := image(t, "later/app") // unsigned
	apply(t, deployment("later", img.Context().Tag("v1").String()))
	waiting(t, "default", "later", "CreateContainerError")

	cfg := kubectl(t, "-n", "signgate-system", "get", "configmap", "signgate-config", "-o", `jsonpath={.data.config\.toml}`)
	allow := fmt.Sprintf("[[policy]]\nname = \"later\"\nscopes = [\"%s/later/*\"]\nnamespaces = [\"default\"]\nmode = \"allow\"\n\n", E.Registry)
	i := strings.Index(cfg, "[[policy]]\nname = \"everything\"")
	if i < 0 {
		t.Fatalf("no catch-all policy in the ConfigMap:\n%s", cfg)
	}
	setConfig := func(c string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		y := kubectl(t, "-n", "signgate-system", "create", "configmap", "signgate-config", "--from-file=config.toml="+p, "--dry-run=client", "-o", "yaml")
		apply(t, y)
	}
	setConfig(cfg[:i] + allow + cfg[i:])
	defer setConfig(cfg)
	start := time.Now()
	if out, err := C.Kubectl("rollout", "status", "deployment/later", "--timeout=150s"); err != nil {
		t.Fatalf("the edited policy did not take effect: %v: %s", err, out)
	}
	t.Logf("the edit took effect in %s", time.Since(start).Round(time.Second))
	if logs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate"); !strings.Contains(logs, "config or key files changed; reloading") {
		t.Fatalf("signgate did not say why it reloaded:\n%s", logs)
	}
}
