package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/policytest"
)

// The node's policy from a signed artifact in the distribution registry
// (issue 32): published with signgate policy build and push, signed with
// the cosign CLI, taken within the refresh interval; unsigned, signed by
// another key, and a replayed older one are refused with the one in force
// kept; a restart with the registry unreachable runs the last verified
// policy; the metrics say which serial is in force.
func TestPolicySourceThroughARealRegistry(t *testing.T) {
	e := need(t)
	const repo = "signgate/policy"
	ref := e.Registry + "/" + repo + ":prod"
	dir := t.TempDir()
	def := harness.DefaultSigngateConfig(e.Env)
	cut := strings.Index(def, "[keys.k1]")
	node := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(node, []byte(def[:cut]+fmt.Sprintf(
		"[keys.security]\npath = %q\n\n[policy_source]\nreference = %q\nrefresh = \"2s\"\n[policy_source.cosign]\nkeys = [\"security\"]\n",
		filepath.Join(e.CosignDir, "cosign.pub"), ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	// push publishes a built policy file as it is.
	push := func(built string) name.Digest {
		t.Helper()
		d, err := name.NewDigest(signgateOK(t, e, "policy", "push", "--config", node, "--file", built, ref))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// publish builds the suite's own policy at serial, with a policy
	// admitting policytest/* unsigned first when open, and pushes it.
	publish := func(serial int, open bool) name.Digest {
		t.Helper()
		src := def
		if open {
			src = strings.Replace(def, "[[policy]]", fmt.Sprintf("[[policy]]\nname = \"open-v%d\"\nscopes = [\"%s/policytest/*\"]\nmode = \"allow\"\n\n[[policy]]", serial, e.Registry), 1)
		}
		cfg := filepath.Join(dir, fmt.Sprintf("src%d.toml", serial))
		if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		built := filepath.Join(dir, fmt.Sprintf("policy%d.toml", serial))
		signgateOK(t, e, "policy", "build", "--from", cfg, "--serial", fmt.Sprint(serial), "--out", built)
		return push(built)
	}
	cosignSign := func(d name.Digest) {
		t.Helper()
		if out, err := e.Cosign(e.CosignDir, "sign", "--key", "cosign.key", "--yes", "--use-signing-config=false", "--tlog-upload=false", d.String()); err != nil {
			t.Fatalf("cosign sign: %v: %s", err, out)
		}
	}
	metric := func(series string) string {
		resp, err := http.Get("http://" + e.MetricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			return "absent"
		}
		return m[1]
	}
	waitMetric := func(series, want string) {
		t.Helper()
		// Within the refresh interval (2s), and a verification's time.
		if err := harness.WaitFor(15*time.Second, func() error {
			if got := metric(series); got != want {
				return fmt.Errorf("%s = %s, want %s", series, got, want)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, e.SigngateLog.String())
		}
	}
	app := e.image("policytest/app") // unsigned
	pod, podCfg := e.pod("default")
	t.Cleanup(func() {
		e.Proxy.Hang("")
		if err := e.RestartSigngate(def); err != nil {
			t.Error(err)
		}
	})

	one := publish(1, false)
	cosignSign(one)
	if err := e.RestartSigngate(string(must(os.ReadFile(node)))); err != nil {
		t.Fatal(err)
	}
	waitMetric("signgate_policy_serial", "1")
	_, err := e.Create(pod, podCfg, app.String())
	mustDeny(t, err, `policy "apps"`, "no cosign signatures found")

	two := publish(2, true)
	cosignSign(two)
	waitMetric("signgate_policy_serial", "2")
	id, err := e.Create(pod, podCfg, app.String())
	mustAllow(t, id, err)

	// A refusal is counted once per artifact; one pushed and not yet
	// signed may have been counted unsigned already.
	count := func(reason string) int {
		var n int
		fmt.Sscan(metric(fmt.Sprintf(`signgate_policy_refused_total{reason=%q}`, reason)), &n)
		return n
	}
	refused := func(reason string, before int) {
		t.Helper()
		if err := harness.WaitFor(15*time.Second, func() error {
			if got := count(reason); got <= before {
				return fmt.Errorf("refusals %s: %d", reason, got)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, e.SigngateLog.String())
		}
		if got := metric("signgate_policy_serial"); got != "2" {
			t.Fatalf("after a refused policy (%s) the serial in force is %s, want 2", reason, got)
		}
	}
	n := count("unsigned")
	publish(3, false) // unsigned
	refused("unsigned", n)
	n = count("untrusted")
	other := publish(4, false)
	if err := e.Signers["stranger"].SignLegacy(other); err != nil {
		t.Fatal(err)
	}
	refused("untrusted", n)
	// Policy one, signed as it was: a replay.
	// (Rebuilt, it would expire later, so another digest.)
	if again := push(filepath.Join(dir, "policy1.toml")); again != one {
		t.Fatalf("policy one rebuilt as %s, not %s", again, one)
	}
	refused("rollback", 0)
	id, err = e.Create(pod, podCfg, app.String())
	mustAllow(t, id, err)
	// doctor says which policy is in force, and names the one refused.
	doc, _ := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor",
		"--config", filepath.Join(e.Dir, "signgate.toml"), "--containerd-config", filepath.Join(e.Dir, "containerd.toml")).CombinedOutput()
	if !strings.Contains(string(doc), "serial 2 ("+two.DigestStr()+")") || !strings.Contains(string(doc), one.DigestStr()+" (rollback)") {
		t.Errorf("doctor does not show the policy in force and the rollback refused:\n%s", doc)
	}

	// The registry stops answering for the policy; signgate restarts and
	// runs the policy it kept.
	e.Proxy.Hang(repo)
	e.KillSigngate()
	if err := e.StartSigngate(); err != nil {
		t.Fatal(err)
	}
	if got := metric("signgate_policy_serial"); got != "2" {
		t.Fatalf("restarted with the registry down: serial %s, want 2", got)
	}
	id, err = e.Create(pod, podCfg, app.String())
	mustAllow(t, id, err)
	waitMetric("signgate_policy_fetch_errors_total", "1")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A root policy delegates namespace team-a to the tenant's own signed
// fragment, both in the distribution registry: team-a's pods run what the
// tenant allows, another namespace's pods do not, a fragment reaching
// into team-b is refused naming the delegation (issue 32, item 4), and a
// delegation whose tenant never published denies what it delegates.
func TestDelegatedNamespaceThroughARealRegistry(t *testing.T) {
	e := need(t)
	rootRef, tenantRef := e.Registry+"/signgate/root:prod", e.Registry+"/team-a/policy:prod"
	dir := t.TempDir()
	def := harness.DefaultSigngateConfig(e.Env)
	node := filepath.Join(dir, "node.toml")
	cosignPub := string(must(os.ReadFile(filepath.Join(e.CosignDir, "cosign.pub"))))
	if err := os.WriteFile(node, []byte(def[:strings.Index(def, "[keys.k1]")]+fmt.Sprintf(
		"[keys.security]\npem = '''\n%s'''\n\n[policy_source]\nreference = %q\nrefresh = \"2s\"\n[policy_source.cosign]\nkeys = [\"security\"]\n", cosignPub, rootRef)), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(ref, file, body string) name.Digest {
		t.Helper()
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := name.NewDigest(signgateOK(t, e, "policy", "push", "--config", node, "--file", p, ref))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// team-c is delegated too, but its tenant never publishes.
	root := push(rootRef, "root.toml", policytest.TeamARoot(cosignPub, e.Signers["k2"].PublicPEM(), tenantRef, e.Registry, fmt.Sprintf(`[delegations.team-c]
reference = "%s/team-c/policy:prod"
namespaces = ["team-c"]
scopes = ["%s/team-c/**"]
keys = ["team-a"]

[[policy]]
name = "sandbox"
scopes = ["%s/pause"]
mode = "allow"
`, e.Registry, e.Registry, e.Registry)))
	if out, err := e.Cosign(e.CosignDir, "sign", "--key", "cosign.key", "--yes", "--use-signing-config=false", "--tlog-upload=false", root.String()); err != nil {
		t.Fatalf("cosign sign: %v: %s", err, out)
	}
	fragment := func(serial int, namespaces string) {
		t.Helper()
		d := push(tenantRef, fmt.Sprintf("tenant%d.toml", serial), fmt.Sprintf("serial = %d\nexpires = %s\n[[policy]]\nname = \"apps\"\nnamespaces = %s\nscopes = [\"%s/team-a/**\"]\nmode = \"allow\"\n", serial, policytest.Soon, namespaces, e.Registry))
		if err := e.Signers["k2"].SignLegacy(d); err != nil {
			t.Fatal(err)
		}
	}
	fragment(1, `["team-a"]`)
	app := e.image("team-a/app") // unsigned
	t.Cleanup(func() {
		if err := e.RestartSigngate(def); err != nil {
			t.Error(err)
		}
	})
	mark := e.logMark()
	if err := e.RestartSigngate(string(must(os.ReadFile(node)))); err != nil {
		t.Fatal(err)
	}
	waitLog := func(parts ...string) []string {
		t.Helper()
		var lines []string
		if err := harness.WaitFor(15*time.Second, func() error {
			if lines = e.logLines(mark, parts...); len(lines) == 0 {
				return fmt.Errorf("no log line with %q", parts)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, e.logSince(mark))
		}
		return lines
	}
	// The root alone has as many policies (team-a's denial in place of
	// the tenant's): the fragment is in force once a reload follows its
	// taking.
	if err := harness.WaitFor(15*time.Second, func() error {
		log := e.logSince(mark)
		i := strings.Index(log, `msg="policy source: a delegated fragment verified; taking it"`)
		if i < 0 || !strings.Contains(log[i:], `msg="reloaded config"`) {
			return fmt.Errorf("team-a's fragment is not in force yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, e.logSince(mark))
	}
	waitLog(`msg="reloaded config"`, "policies=4")
	podA, cfgA := e.pod("team-a")
	podB, cfgB := e.pod("team-b")
	id, err := e.Create(podA, cfgA, app.String())
	mustAllow(t, id, err)
	_, err = e.Create(podB, cfgB, app.String())
	mustDeny(t, err, `policy "root-default"`)
	// A delegation without a fragment denies what it delegates, naming
	// itself, rather than leaving it to the root's later policies.
	podC, cfgC := e.pod("team-c")
	_, err = e.Create(podC, cfgC, e.image("team-c/app").String())
	mustDeny(t, err, `policy "team-c/no-fragment-in-force"`, `delegation "team-c"`)

	fragment(2, `["team-a", "team-b"]`)
	lines := waitLog(`msg="policy source: a delegated fragment refused`, "reason=overreach")
	if len(lines) == 0 || !strings.Contains(lines[0], `delegation=team-a`) || !strings.Contains(lines[0], `covers namespace \"team-b\", which is not delegated`) {
		t.Fatalf("the overreach is not refused naming the delegation: %q\n%s", lines, e.logSince(mark))
	}
	_, err = e.Create(podB, cfgB, app.String())
	mustDeny(t, err, `policy "root-default"`)
	id, err = e.Create(podA, cfgA, app.String())
	mustAllow(t, id, err)
}
