package k8s_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 29 item 3: a cluster's Prometheus scrapes signgate through the
// chart's headless Service: its endpoint is the node's IP and the scrape
// port, which serves the metrics, and only them.
func TestMetricsScrapedThroughTheService(t *testing.T) {
	need(t)
	var addr string
	if err := harness.WaitFor(time.Minute, func() error {
		out, err := C.Kubectl("-n", "signgate-system", "get", "endpointslices", "-l", "kubernetes.io/service-name=signgate-metrics",
			"-o", `jsonpath={.items[0].endpoints[0].addresses[0]} {.items[0].ports[0].port}`)
		f := strings.Fields(out)
		if err != nil || len(f) != 2 {
			return fmt.Errorf("the signgate-metrics Service's endpoints: %v: %q", err, out)
		}
		addr = net.JoinHostPort(f[0], f[1])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	// Another test may just have restarted signgate's pod: give it a moment.
	if err := harness.WaitFor(time.Minute, func() error {
		code, body, err := get("/metrics")
		for _, want := range []string{`signgate_listener_up{listener="scrape"} 1`, "signgate_nri_connected 1", "signgate_enforcing_policies 1"} {
			if err != nil || code != http.StatusOK || !strings.Contains(body, want) {
				return fmt.Errorf("GET /metrics on the Service's endpoint %s: %d %v, no %s:\n%s", addr, code, err, want, body)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/v1/keys"} {
		if code, _, err := get(p); err != nil || code != http.StatusNotFound {
			t.Errorf("GET %s on the scrape listener %s: %d %v, want 404", p, addr, code, err)
		}
	}
}

// Issue 29 item 4: a denial reaches the cluster without ssh, in the pod's
// events (through the kubelet) and in signgate's log (stderr, kubectl
// logs), in this exact text. docs/operations.md shows it.
func TestDenialTextInPodEvents(t *testing.T) {
	need(t)
	img := image(t, "events/unsigned")
	ref := img.Context().Tag("v1").String()
	apply(t, deployment("events-unsigned", ref))
	defer kubectl(t, "delete", "deployment", "events-unsigned", "--wait=false")
	_, events := waiting(t, "default", "events-unsigned", "CreateContainerError")
	var failed []string
	for _, l := range strings.Split(events, "\n") {
		if strings.HasPrefix(l, "Failed: ") {
			failed = append(failed, l)
		}
	}
	want := fmt.Sprintf("Failed: Error: %s", denial(ref, img.Context().String(), img.DigestStr()))
	if len(failed) == 0 || failed[0] != want {
		t.Fatalf("the pod's Failed event:\n got %q\nwant %q\nall events:\n%s", failed, want, events)
	}
	logs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "decision=deny image="+ref+" ") {
			line = l
		}
	}
	for _, f := range []string{`level=WARN msg="signgate deny ` + ref + `"`, "digest=" + img.DigestStr(), "policy=everything", "cause=no_signatures", "namespace=default", "container=events-unsigned"} {
		if !strings.Contains(line, f) {
			t.Fatalf("signgate's log (kubectl logs) has no decision line with %s:\n%s", f, logs)
		}
	}
}

// denial is the text the kubelet shows for a container signgate refused
// (no signature, under the suite's policy "everything"): containerd's CRI
// error around nri.DenialMessage, the same on containerd 2.2 and 2.4.
func denial(ref, repo, digest string) string {
	return fmt.Sprintf("failed to create containerd container: failed to get NRI adjustment for container: rpc error: code = Unknown desc = "+
		"signgate denied image %s (%s@%s): policy \"everything\": cosign: no cosign signatures found (looked for the .sig tag and Sigstore bundle referrers)",
		ref, repo, digest)
}
