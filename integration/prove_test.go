package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/prove"
)

type proveOutput struct {
	Findings []struct {
		Guarantee string `json:"guarantee"`
		Holds     bool   `json:"holds"`
		Detail    string `json:"detail"`
	} `json:"findings"`
	Prove *prove.Result `json:"prove"`
	Error string        `json:"error"`
}

// doctorProve runs `signgate doctor --prove` on e's containerd, with
// signgate's config in e.Dir plus extra [daemon] lines, and checks that
// the probe left nothing behind.
func doctorProve(t *testing.T, e *harness.Env, extra string, output string) (*proveOutput, string, int) {
	t.Helper()
	cfg := e.SigngateConfig()
	if extra != "" {
		cfg = strings.Replace(cfg, "[daemon]\n", "[daemon]\n"+extra+"\n", 1)
	}
	path := filepath.Join(t.TempDir(), "signgate.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--prove", "--config", path,
		"--containerd-config", filepath.Join(e.Dir, "containerd.toml"), "--output", output)
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if output != "json" {
		return nil, string(out), code
	}
	var o proveOutput
	if err := json.Unmarshal(out, &o); err != nil || o.Prove == nil {
		t.Fatalf("doctor --prove --output json: %v\n%s", err, out)
	}
	noneLeft(t, e, o.Prove)
	return &o, string(out), code
}

// noneLeft: no sandbox, container, image or content of the probe remains,
// as containerd itself reports it.
func noneLeft(t *testing.T, e *harness.Env, r *prove.Result) {
	t.Helper()
	if len(r.Leftovers) > 0 {
		t.Errorf("the probe says it left %v", r.Leftovers)
	}
	if out, err := e.Crictl("pods", "-q", "--namespace", prove.PodNamespace); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("pod sandboxes left in %s: %q %v", prove.PodNamespace, out, err)
	}
	nonce := r.Image[strings.LastIndex(r.Image, ":")+1:]
	if out, err := e.Crictl("ps", "-a", "-q", "--label", "signgate.dev/prove="+nonce); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("probe containers left: %q %v", out, err)
	}
	if out, err := e.Crictl("inspecti", r.Image); err == nil {
		t.Errorf("probe image %s left: %s", r.Image, out)
	}
	conn, err := grpc.NewClient("unix://"+e.ContainerdSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "containerd-namespace", "k8s.io"), 10*time.Second)
	defer cancel()
	if _, err := contentapi.NewContentClient(conn).Info(ctx, &contentapi.InfoRequest{Digest: r.Digest}); status.Code(err) != codes.NotFound {
		t.Errorf("the probe's manifest %s is still in containerd's content store (%v)", r.Digest, err)
	}
}

func holds(o *proveOutput) (bool, string) {
	for _, f := range o.Findings {
		if strings.Contains(f.Guarantee, "refusal is signgate's") {
			return f.Holds, f.Detail
		}
	}
	return false, "no probe finding"
}

// Issue 29, item 6, (a): on a correctly configured node the probe is
// refused by signgate, under the name's policy when prove_image is under
// one, and by "unmatched images are denied" when it is under none.
func TestProveEnforcement(t *testing.T) {
	e := need(t)
	// Without NRI's validator (before containerd 2.2) the probe is proven
	// all the same, and doctor still exits 1: its "fails closed" finding
	// does not hold there.
	ok := 0
	if !e.Containerd.HasValidator() {
		ok = 1
	}
	o, _, code := doctorProve(t, e.Env, "", "json")
	r := o.Prove
	if code != ok || r.Outcome != prove.Proven || !r.Proven {
		t.Fatalf("exit %d, outcome %s: %s (refusal %q)", code, r.Outcome, r.Proved, r.Refusal)
	}
	if h, d := holds(o); !h || !strings.Contains(d, "no policy matches it, and unmatched images are denied") {
		t.Fatalf("finding: %v %s", h, d)
	}
	if !strings.HasPrefix(r.Image, prove.DefaultImage+":") || !strings.Contains(r.Refusal, "signgate denied image "+r.Image) || !strings.Contains(r.Refusal, r.Digest) {
		t.Fatalf("refusal %q does not name signgate and the probe %s (%s)", r.Refusal, r.Image, r.Digest)
	}
	// Under the policy ordinary images get: it verifies, and nobody signed.
	o, _, code = doctorProve(t, e.Env, `prove_image = "`+e.Registry+`/signgate-prove"`, "json")
	r = o.Prove
	if code != ok || r.Outcome != prove.Proven || r.Policy != "apps" || !strings.Contains(r.Proved, `it falls under policy "apps" (mode enforce)`) {
		t.Fatalf("exit %d, outcome %s, policy %q: %s (refusal %q)", code, r.Outcome, r.Policy, r.Proved, r.Refusal)
	}
	mustDeny(t, errors.New(r.Refusal), "signgate denied image "+e.Registry+"/signgate-prove:", r.Digest, "no cosign signatures found")
	_, text, code := doctorProve(t, e.Env, "", "text")
	if code != ok || !strings.Contains(text, "OK   "+"containerd refuses a container from an image nobody signed, and the refusal is signgate's") ||
		!strings.Contains(text, "probe: proven from "+prove.DefaultImage) || !strings.Contains(text, "probe: removed everything it made") {
		t.Fatalf("exit %d:\n%s", code, text)
	}
}

// A config that looks right and enforces nothing: the probe's name under
// a policy in mode allow. signgate admits the unsigned image, containerd
// creates the container, and the probe fails loudly (and removes it).
func TestProveCatchesAnAllowPolicy(t *testing.T) {
	e := need(t)
	o, _, code := doctorProve(t, e.Env, `prove_image = "`+e.Registry+`/pause"`, "json")
	r := o.Prove
	if code != 1 || r.Outcome != prove.Created || r.Proven {
		t.Fatalf("exit %d, outcome %s: %s", code, r.Outcome, r.Proved)
	}
	if !strings.HasPrefix(r.Proved, "NOT ENFORCING: containerd CREATED a container from "+e.Registry+"/pause:") ||
		!strings.Contains(r.Proved, `policy "sandbox" is mode allow, so signgate admits an image nobody signed`) {
		t.Fatalf("proved: %s", r.Proved)
	}
}

// (b): no drop-in (NRI's validator requires nothing) and no signgate: the
// container is created; the probe says so and removes it.
func TestProveWithoutDropInOrSigngate(t *testing.T) {
	need(t)
	e := startOwn(t, harness.Options{NoGate: true})
	o, text, code := doctorProve(t, e, "", "json")
	r := o.Prove
	if code != 1 || r.Outcome != prove.Created || r.Refusal != "" {
		t.Fatalf("exit %d, outcome %s: %s (refusal %q)", code, r.Outcome, r.Proved, r.Refusal)
	}
	if h, d := holds(o); h || !strings.Contains(d, "NOT ENFORCING") || !strings.Contains(d, "it is not connected and containerd's drop-in (required_plugins) is missing") {
		t.Fatalf("finding %v: %s\n%s", h, d, text)
	}
	_, text, _ = doctorProve(t, e, "", "text")
	if !strings.Contains(text, "probe: created from") || !strings.Contains(text, "<-- NOTHING ENFORCES ON THIS NODE") {
		t.Fatalf("text:\n%s", text)
	}
}

// (c): the drop-in requires signgate, and signgate is not connected:
// containerd refuses, but the refusal is NRI's validator's, not
// signgate's. Fail-closed holds; enforcement by signgate is not proven.
func TestProveSigngateNotConnected(t *testing.T) {
	need(t)
	e := startOwn(t, harness.Options{StandIn: true, DropIn: "../packaging/containerd/signgate.toml"})
	o, _, code := doctorProve(t, e, "", "json")
	r := o.Prove
	if !e.Containerd.HasValidator() {
		// No validator to refuse (before containerd 2.2): the probe's
		// container is created, and the probe says nothing enforces.
		if code != 1 || r.Outcome != prove.Created {
			t.Fatalf("containerd %s, no validator: exit %d, outcome %s: %s", e.Containerd.Version, code, r.Outcome, r.Proved)
		}
		return
	}
	if code != 1 || r.Outcome != prove.PluginAbsent || !strings.Contains(r.Refusal, `required plugin "signgate" not present`) {
		t.Fatalf("exit %d, outcome %s: %s (refusal %q)", code, r.Outcome, r.Proved, r.Refusal)
	}
	if !strings.Contains(r.Proved, "containerd refused the container, but not signgate") || !strings.Contains(r.Proved, "every new container on this node is refused") {
		t.Fatalf("proved: %s", r.Proved)
	}
}

// The daemon's schedule: with prove_interval set, signgate probes once
// connected, logs what it proved, exports the time, and leaves nothing.
func TestDaemonProves(t *testing.T) {
	need(t)
	e := startOwn(t, harness.Options{DropIn: "../packaging/containerd/signgate.toml",
		SigngateConfig: func(e *harness.Env) string {
			return strings.Replace(harness.DefaultSigngateConfig(e), "[daemon]\n", "[daemon]\nprove_interval = \"1h\"\nprove_image = \""+e.Registry+"/signgate-prove\"\n", 1)
		}})
	var line string
	if err := harness.WaitFor(60*time.Second, func() error {
		for _, l := range strings.Split(e.SigngateLog.String(), "\n") {
			if strings.Contains(l, "enforcement proven") || strings.Contains(l, "enforcement NOT proven") || strings.Contains(l, "enforcement probe:") {
				line = l
				return nil
			}
		}
		return errors.New("no probe yet")
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String())
	}
	if !strings.Contains(line, "enforcement proven") || !strings.Contains(line, `policy=apps`) || !strings.Contains(line, "outcome=proven") {
		t.Fatalf("probe: %s", line)
	}
	body := metricsBody(t, e)
	var stamp float64
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "signgate_enforcement_proven_timestamp_seconds ") {
			if _, err := fmt.Sscan(strings.Fields(l)[1], &stamp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if stamp < float64(time.Now().Add(-2*time.Minute).Unix()) || !strings.Contains(body, `signgate_enforcement_probes_total{outcome="proven"} 1`) ||
		!strings.Contains(body, "signgate_enforcement_prove_interval_seconds 3600") {
		t.Fatalf("metrics (proven at %v):\n%s", stamp, body)
	}
	// The probe's deliberate denial is the probe's, not the node's: it
	// does not feed SigngateDenialsRising.
	if !strings.Contains(body, `signgate_decisions_total{decision="deny",policy="apps",source="probe"} 1`) ||
		strings.Contains(body, `signgate_decisions_total{decision="deny",policy="apps",source="runtime"}`) {
		t.Fatalf("the probe's denial is not counted as source=\"probe\" alone:\n%s", body)
	}
	if out, err := e.Crictl("pods", "-q", "--namespace", prove.PodNamespace); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("pod sandboxes left in %s: %q %v", prove.PodNamespace, out, err)
	}
}

func metricsBody(t *testing.T, e *harness.Env) string {
	t.Helper()
	resp, err := http.Get("http://" + e.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startOwn starts an environment of the test's own, on the suite's
// containerd, stopped when the test ends.
func startOwn(t *testing.T, o harness.Options) *harness.Env {
	t.Helper()
	o.Bin, o.Containerd = os.Getenv("SIGNGATE_TEST_BIN"), os.Getenv("SIGNGATE_CONTAINERD")
	e, err := harness.Start(o)
	if e != nil {
		t.Cleanup(e.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}
