// Command demo-k8s shows signgate on a Kubernetes node: a one-node cluster
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
// all from the module proxy) on containerd requiring signgate, signgate
// installed from the shipped DaemonSet, then one Deployment from a signed
// image and one from an unsigned image, and what a user reads about each.
// Run it with `make demo-k8s`.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

func main() {
	bin, k8s, layout := os.Getenv("SIGNGATE_TEST_BIN"), os.Getenv("SIGNGATE_K8S_BIN"), os.Getenv("SIGNGATE_IMAGE_LAYOUT")
	if bin == "" || k8s == "" || layout == "" {
		fail("run this with `make demo-k8s`")
	}
	step("A node whose containerd requires signgate, a cluster, and signgate from packaging/kubernetes/signgate.yaml")
	e, c, _, err := harness.StartKubernetes(harness.KubernetesSetup{Bin: bin, Containerd: os.Getenv("SIGNGATE_CONTAINERD"),
		K8sBin: k8s, Layout: layout, Repo: "."}, func(s string) { fmt.Println("   " + s) })
	stop := func() {
		if c != nil {
			c.Stop()
		}
		if e != nil {
			e.Stop()
		}
	}
	if err != nil {
		if e != nil {
			e.Dump()
		}
		stop()
		fail(err.Error())
	}
	defer stop()
	kubectl(c, "get", "nodes")
	kubectl(c, "-n", "signgate-system", "get", "pods", "-o", "wide")

	step("Two images in the registry: one signed with the key in signgate's ConfigMap, one not")
	signed, err := e.Image("demo/signed", "k1")
	check(err)
	unsigned, err := e.Image("demo/unsigned")
	check(err)
	fmt.Printf("   %s (signed)\n   %s (unsigned)\n", signed, unsigned)

	step("kubectl apply: a Deployment of each")
	for n, img := range map[string]string{"signed": signed.Context().Tag("v1").String(), "unsigned": unsigned.Context().Tag("v1").String()} {
		check(c.Apply(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: default}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      hostNetwork: true
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      containers: [{name: app, image: %[2]s}]
`, n, img)))
	}
	kubectl(c, "rollout", "status", "deployment/signed", "--timeout=120s")
	check(harness.WaitFor(2*time.Minute, func() error {
		out, _ := c.Kubectl("get", "pods", "-l", "app=unsigned", "-o", "jsonpath={.items[0].status.containerStatuses[0].state.waiting.reason}")
		if out != "CreateContainerError" {
			return fmt.Errorf("unsigned pod: %q", out)
		}
		return nil
	}))
	kubectl(c, "get", "pods", "-o", "wide")

	step("Why the unsigned one does not run: its events (kubectl describe shows the same)")
	pod, _ := c.Kubectl("get", "pods", "-l", "app=unsigned", "-o", "jsonpath={.items[0].metadata.name}")
	kubectl(c, "get", "events", "--field-selector", "involvedObject.name="+pod, "-o", `custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message`)

	step("signgate's own account of its decisions (kubectl logs)")
	out, _ := c.Kubectl("-n", "signgate-system", "logs", "ds/signgate")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "demo/") && (strings.Contains(l, "decision") || strings.Contains(l, "verification finished")) {
			fmt.Println("   " + l)
		}
	}
	fmt.Println("\nThe signed Deployment runs; the unsigned one stays in CreateContainerError with signgate's reason.")
}

func kubectl(c *harness.Cluster, args ...string) {
	out, err := c.Kubectl(args...)
	fmt.Printf("   $ kubectl %s\n%s\n", strings.Join(args, " "), indent(out))
	check(err)
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func indent(s string) string { return "   " + strings.ReplaceAll(s, "\n", "\n   ") }

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "demo-k8s:", msg)
	os.Exit(1)
}
