package crio

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// logLines are the lines signgate logged after mark that hold every part.
func logLines(e *harness.Env, mark int, parts ...string) []string {
	var out []string
	for _, l := range strings.Split(e.SigngateLog.String()[mark:], "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

func state(e *harness.Env, id string) string {
	out, err := e.Crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// stoppable starts doctor's line on stopping a running container.
const stoppable = "OK   a running container its policy no longer trusts can be stopped (on_untrusted_running = \"stop\"): "

func doctorOn(e *harness.Env) (string, error) {
	out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--config", filepath.Join(e.Dir, "signgate.toml"),
		"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d"), "--crio-socket", e.ContainerdSock).CombinedOutput()
	return string(out), err
}

// TestCRIORevokedKeyStopsRunningContainer: on CRI-O, with [daemon.runtime]
// crio_socket naming CRI-O's CRI, a running container whose key is revoked
// (a reload drops it from the policy) is stopped under
// on_untrusted_running = "stop", as on containerd: not at the first
// judgement that denies it, but once the same denial is seen stop_confirm
// later; then through CRI-O's StopContainer, so CRI-O records it exited,
// will not start it again, and refuses a new container of its image.
// doctor says stopping works. Without the socket, config refuses the
// stop policy on CRI-O (config's TestCRIORefusesWhatItCannotDo).
func TestCRIORevokedKeyStopsRunningContainer(t *testing.T) {
	e := need(t)
	good := keepConfig(t, e)
	const confirm = 5 * time.Second
	policy := func(key string) string {
		return fmt.Sprintf("[[policy]]\nname = \"revocable\"\nscopes = [\"%s/revocable/*\"]\non_untrusted_running = \"stop\"\nstop_confirm = %q\n  [policy.cosign]\n  keys = [%q]\n\n", e.Registry, confirm, key)
	}
	withPolicy := func(key string) string {
		// Before "apps", which matches every image: the first match governs.
		c := strings.Replace(good, "[[policy]]\nname = \"apps\"", policy(key)+"[[policy]]\nname = \"apps\"", 1)
		return withCRIOSocket(e, c, "crio")
	}
	// The suite's config names no CRI socket: doctor says containers are
	// only reported, and that is no failure while no policy says stop.
	if out, err := doctorOn(e); err != nil || !strings.Contains(out, strings.Replace(stoppable, "OK  ", "--  ", 1)+"[daemon.runtime] crio_socket names no CRI socket") {
		t.Errorf("doctor without crio_socket (%v) does not say stopping is off:\n%s", err, out)
	}
	cfg := withPolicy("k1")
	if !strings.Contains(cfg, "crio_socket") || !strings.Contains(cfg, `name = "revocable"`) {
		t.Fatalf("the suite's config has no CRI-O runtime or apps policy to extend:\n%s", good)
	}
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatalf("signgate with a stop policy and crio_socket on CRI-O: %v\n%s", err, e.SigngateLog.String())
	}

	if out, err := doctorOn(e); err != nil || !strings.Contains(out, stoppable+"StopContainer over CRI-O's CRI at "+e.ContainerdSock+" (cri-o "+e.CRIOVersion()+" answered)") {
		t.Errorf("doctor with crio_socket (%v) does not say stopping works:\n%s", err, out)
	}

	podID, podCfg := pod(t, e)
	d := image(t, e, "revocable/app", "k1")
	ref := e.Registry + "/revocable/app:v1"
	id, err := e.Create(podID, podCfg, ref)
	if err != nil {
		t.Fatalf("signed image refused: %v", err)
	}
	if out, err := e.Crictl("start", id); err != nil {
		t.Fatalf("crictl start: %v: %s", err, out)
	}
	if err := harness.WaitFor(10*time.Second, func() error {
		if s := state(e, id); s != "CONTAINER_RUNNING" {
			return fmt.Errorf("state %q", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The key is revoked: the policy trusts k2 only now.
	mark := len(e.SigngateLog.String())
	if took, err := e.ReloadSigngate(withPolicy("k2")); err != nil || !took {
		t.Fatalf("reload: %v %v\n%s", took, err, e.SigngateLog.String()[mark:])
	}
	// The first denial waits for confirmation, due stop_confirm later: the
	// container runs on until then.
	var pending []string
	if err := harness.WaitFor(15*time.Second, func() error {
		if pending = logLines(e, mark, `msg="running container no longer trusted"`, "id="+id, "digest="+d, "policy=revocable", "cause=untrusted", `action="stop pending: confirming untrusted at `); len(pending) == 0 {
			return fmt.Errorf("no pending stop logged for %s", id)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
	}
	_, due, _ := strings.Cut(pending[0], "confirming untrusted at ")
	dueAt, err := time.Parse(time.RFC3339, strings.TrimRight(strings.Fields(due)[0], `"`))
	if err != nil {
		t.Fatalf("the pending stop names no time: %v\n%s", err, pending[0])
	}
	if s := state(e, id); s != "CONTAINER_RUNNING" && time.Now().Before(dueAt) {
		t.Fatalf("the container is %s before its denial was confirmed (due %s)", s, dueAt)
	}
	// Confirmed at that time, signgate judging again on its own, and
	// stopped through CRI-O's CRI (10s grace: SIGKILL if SIGTERM is not
	// enough).
	if err := harness.WaitFor(45*time.Second, func() error {
		if s := state(e, id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the untrusted container is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
	}
	// signgate logs the stop once CRI-O's StopContainer returns, which may
	// be after crictl already sees the container exited.
	var stopped []string
	if err := harness.WaitFor(30*time.Second, func() error {
		if stopped = logLines(e, mark, "stopped a running container its policy no longer trusts", "id="+id, "digest="+d, "policy=revocable"); len(stopped) == 0 {
			return fmt.Errorf("no log line for the stop")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
	}
	if at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(stopped[0])[0], "time=")); err != nil || at.Before(dueAt) {
		t.Errorf("stopped at %v (%v), before the confirmation was due at %s", at, err, dueAt)
	}
	if out, err := e.Crictl("start", id); err == nil {
		t.Fatalf("the stopped container started again: %s", out)
	}
	_, err = e.Create(podID, podCfg, ref)
	mustDeny(t, err, "signgate denied image", d, `policy "revocable"`)
}
