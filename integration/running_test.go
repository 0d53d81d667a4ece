package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/localapi"
)

// ps runs `signgate ps --output json` and returns the running container
// id as listed, and the exit code; untrusted counts the containers listed
// untrusted under policy release (other tests leave some running).
func (e *env) ps(id string) (rc localapi.RunningContainer, code int, untrusted int) {
	e.t.Helper()
	rc, code, untrusted, err := e.psFind(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return rc, code, untrusted
}

// psFind is ps for a container signgate may not have learnt yet: a
// signgate started anew learns running containers from NRI's Synchronize,
// which may come after it answers /readyz.
func (e *env) psFind(id string) (rc localapi.RunningContainer, code int, untrusted int, err error) {
	cmd := exec.Command(filepath.Join(e.Bin, "signgate"), "ps", "--socket", e.APISocket(), "--output", "json")
	out, _ := cmd.Output()
	var r struct {
		Schema string `json:"schema"`
		localapi.RunningResponse
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Schema != "signgate.dev/ps/v1" {
		return rc, 0, 0, fmt.Errorf("signgate ps --output json: %v\n%s", err, out)
	}
	found := false
	for _, c := range r.Containers {
		if c.Policy == "release" && c.Verdict == localapi.RunningUntrusted {
			untrusted++
		}
		if c.ID == id {
			rc, found = c, true
		}
	}
	if !found {
		return rc, 0, 0, fmt.Errorf("signgate ps does not list the running container %s:\n%s", id, out)
	}
	return rc, cmd.ProcessState.ExitCode(), untrusted, nil
}

func (e *env) state(id string) string {
	out, err := e.Crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// A KMS key disabled under a running container (issue 29, item 5): the
// sync that learns it makes signgate judge every running container again;
// the container is listed untrusted by `signgate ps`, the metric and the
// log, and keeps running under the default "report". Under "stop" it is
// stopped, cannot be started again, and a new container of its image is
// refused.
func TestKMSRevocationReachesRunningContainers(t *testing.T) {
	e := need(t)
	l, k := e.releaseKey()
	cfg := kmsConfig(e, l.URL)
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	pod, podCfg := e.pod("default")
	img := e.signKMS("release/running")
	id, err := e.Create(pod, podCfg, img.String())
	mustAllow(t, id, err)
	e.mustRun(id)
	rc, _, _ := e.ps(id)
	if rc.Verdict != "trusted" || rc.Policy != "release" || rc.Digest != img.DigestStr() || fmt.Sprint(rc.VerifiedBy) != "[cosign: release]" || rc.Namespace != "default" || rc.Pod == "" || rc.Container == "" {
		t.Fatalf("signgate ps before the revocation: %+v", rc)
	}
	text, err := exec.Command(filepath.Join(e.Bin, "signgate"), "ps", "--socket", e.APISocket()).Output()
	if !strings.Contains(string(text), "VERIFIED BY") || !strings.Contains(string(text), "cosign: release") {
		t.Fatalf("signgate ps: %v\n%s", err, text)
	}

	mark := e.logMark()
	l.DisableKey(t, k)
	if r := e.keys("sync"); !changed(r, keysync.Revoked, k) {
		t.Fatalf("keys sync after disabling the key: %+v", r)
	}
	// Judged again on its own, without a create, a start or a ps.
	var line string
	if err := harness.WaitFor(15*time.Second, func() error {
		lines := e.logLines(mark, `msg="running container no longer trusted"`, "id="+id)
		if len(lines) == 0 {
			return fmt.Errorf("no log line for the running container %s", id)
		}
		line = lines[0]
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	// The image as the container names it: by digest on containerd 2.x, by
	// the tag it was pulled by on 1.7 (CRI's image-name annotation); the
	// digest is its own field.
	for _, want := range []string{"pod=" + rc.Pod, "namespace=default", "container=" + rc.Container, "image=" + img.Context().Name(),
		"digest=" + img.DigestStr(), "policy=release", "cause=untrusted", "action=report", `trigger="KMS keys changed"`} {
		if !strings.Contains(line, want) {
			t.Errorf("the log line lacks %s: %s", want, line)
		}
	}
	rc, code, untrusted := e.ps(id)
	if rc.Verdict != "untrusted" || rc.Cause != "untrusted" || rc.Action != "report" || code != 1 || !strings.Contains(rc.Reason, "not by release") {
		t.Fatalf("signgate ps after the revocation (exit %d): %+v", code, rc)
	}
	resp, err := http.Get("http://" + e.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`signgate_running_untrusted{policy="release"} %d`, untrusted); !strings.Contains(string(metrics), want) {
		t.Fatalf("metrics lack %s:\n%s", want, metrics)
	}
	if s := e.state(id); s != "CONTAINER_RUNNING" {
		t.Fatalf("under on_untrusted_running = \"report\" the container is %s", s)
	}

	// A signgate started anew learns the running containers from
	// containerd (NRI Synchronize) and judges them as soon as it connects.
	restarted := e.logMark()
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitFor(15*time.Second, func() error {
		if len(e.logLines(restarted, `msg="running container no longer trusted"`, "id="+id, "digest="+img.DigestStr(), `trigger="connected to NRI"`)) == 0 {
			return fmt.Errorf("the restarted signgate did not judge the running container %s", id)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(restarted))
	}

	// The policy says stop: the reload judges again and stops it once the
	// same denial is seen stop_confirm (here 2s, and deny_ttl 1s) after
	// the first, signgate judging again then on its own.
	stop := strings.Replace(cfg, "  [policy.cosign]\n  keys = [\"release\"]", "on_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\n  [policy.cosign]\n  keys = [\"release\"]", 1)
	if stop == cfg {
		t.Fatal("the test's config has no release policy to change")
	}
	if took, err := e.ReloadSigngate(stop); err != nil || !took {
		t.Fatalf("reload: %v %v\n%s", took, err, e.logSince(mark))
	}
	if err := harness.WaitFor(30*time.Second, func() error {
		if s := e.state(id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the untrusted container is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	if len(e.logLines(mark, "stopped a running container its policy no longer trusts", "id="+id, "digest="+img.DigestStr())) == 0 {
		t.Fatalf("no log line for the stop:\n%s", e.logSince(mark))
	}
	// It does not come back unverified: CRI does not start a stopped
	// container again, and the container that replaces it passes the gate
	// again, and is refused.
	if out, err := e.Crictl("start", id); err == nil {
		t.Fatalf("the stopped container started again: %s", out)
	}
	_, err = e.Create(pod, podCfg, img.String())
	mustDeny(t, err, "signgate denied image", img.DigestStr(), `policy "release"`, "not by release")
}

// A container created by tag, running when its tag moves to another image
// (unsigned), then judged by a signgate started anew (it learns the
// container from NRI Synchronize, with no decision of its own to go by):
// it runs the image it was created from, and is judged by containerd's
// record of that, not by the tag resolved again, so it stays trusted.
func TestRunningContainerKeepsItsImageWhenItsTagMoves(t *testing.T) {
	e := need(t)
	l, _ := e.releaseKey()
	cfg := kmsConfig(e, l.URL)
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	pod, podCfg := e.pod("default")
	img := e.signKMS("release/moved")
	tag := e.Registry + "/release/moved:v1"
	id, err := e.Create(pod, podCfg, tag)
	mustAllow(t, id, err)
	e.mustRun(id)
	moved, err := harness.PushBusybox(tag, "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pull(tag); err != nil {
		t.Fatal(err)
	}
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	var rc localapi.RunningContainer
	if err := harness.WaitFor(15*time.Second, func() error {
		var err error
		if rc, _, _, err = e.psFind(id); err != nil {
			return err
		}
		if rc.Verdict != "trusted" || rc.Digest != img.DigestStr() {
			return fmt.Errorf("the container is judged %s %s (%s: %s), want trusted %s (the tag now names %s)", rc.Verdict, rc.Digest, rc.Cause, rc.Reason, img.DigestStr(), moved.DigestStr())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A pod's sandbox is judged again with the running containers: its pause
// image trusted (signed by k1) when the pod starts, then its policy
// tightened by a reload (k2 required, as a key revoked): `signgate ps`
// lists the sandbox untrusted while the pod runs under "report"; under
// "stop" its task is stopped, which takes the pod down (NOTREADY).
func TestRunningSandboxJudgedAgain(t *testing.T) {
	e := need(t)
	const ns = "sandbox-judged"
	pause, err := e.SignPause()
	if err != nil {
		t.Fatal(err)
	}
	orig := e.SigngateConfig()
	judged := func(keys, extra string) func(string) string {
		return func(string) string {
			return strings.Replace(orig, "[[policy]]\nname = \"sandbox\"", fmt.Sprintf("[[policy]]\nname = \"pause-judged\"\nscopes = [%q]\nnamespaces = [%q]\n%s  [policy.cosign]\n  keys = [%q]\n\n[[policy]]\nname = \"sandbox\"", e.Registry+"/pause", ns, extra, keys), 1)
		}
	}
	e.withConfig(judged("k1", ""))
	pod, _ := e.pod(ns)
	rc, _, _ := e.ps(pod)
	if !rc.Sandbox || rc.Container != "(sandbox)" || rc.Verdict != localapi.RunningTrusted || rc.Policy != "pause-judged" || rc.Digest != pause.DigestStr() || rc.Namespace != ns {
		t.Fatalf("the sandbox before the change: %+v", rc)
	}

	e.withConfig(judged("k2", ""))
	rc, code, _ := e.ps(pod)
	if rc.Verdict != localapi.RunningUntrusted || rc.Cause != "untrusted" || rc.Action != "report" || code != 1 {
		t.Fatalf("the sandbox after the change (exit %d): %+v", code, rc)
	}
	if s := e.podState(pod); s != "SANDBOX_READY" {
		t.Fatalf("under \"report\" the pod is %s", s)
	}

	mark := e.logMark()
	e.withConfig(judged("k2", "on_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\n"))
	// A confirmed denial (2s), then the pause process's 10s grace: it
	// ignores SIGTERM, as PID 1.
	if err := harness.WaitFor(60*time.Second, func() error {
		if s := e.podState(pod); s != "SANDBOX_NOTREADY" {
			return fmt.Errorf("the pod with an untrusted sandbox is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	if len(e.logLines(mark, "stopped a running container its policy no longer trusts", "id="+pod, "sandbox=true")) == 0 {
		t.Fatalf("no log line for the sandbox's stop:\n%s", e.logSince(mark))
	}
}

func (e *env) podState(id string) string {
	out, err := e.Crictl("inspectp", "-o", "go-template", "--template", "{{.status.state}}", id)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}
