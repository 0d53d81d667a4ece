package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

func TestPullGate(t *testing.T) {
	e := need(t)
	if err := e.PullGate(true); err != nil {
		t.Fatal(err)
	}
	defer e.PullGate(false)

	unsigned, err := harness.PushBusybox(e.Registry+"/pullgate/unsigned:v1", "sleep", "1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Crictl("pull", e.Registry+"/pullgate/unsigned:v1")
	if !e.Containerd.HasPullGate() {
		// Before 2.1 CRI pulls bypass the image verifiers: the pull
		// succeeds (as documented), and the gate is at creation alone.
		if err != nil {
			t.Fatalf("containerd %s: %v: %s", e.Containerd.Version, err, out)
		}
		pod, cfg := e.pod("default")
		_, err := e.Create(pod, cfg, e.Registry+"/pullgate/unsigned:v1")
		mustDeny(t, err, "signgate denied image", unsigned.DigestStr())
		return
	}
	if err == nil {
		t.Fatalf("an unsigned image was pulled: %s", out)
	}
	mustDeny(t, fmt.Errorf("%s", out), "verifier signgate rejected image", "signgate denied image", unsigned.DigestStr(), "no cosign signatures found")

	signed, err := harness.PushBusybox(e.Registry+"/pullgate/signed:v1", "sleep", "1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Signers["k1"].SignBundle(signed); err != nil {
		t.Fatal(err)
	}
	if err := e.Pull(e.Registry + "/pullgate/signed:v1"); err != nil {
		t.Fatal(err)
	}

	// With the daemon unreachable the verifier blocks the pull.
	wrapper := filepath.Join(e.Dir, "verifiers", "signgate")
	os.Remove(wrapper)
	script := fmt.Sprintf("#!/bin/sh\nexec %s image-verifier -socket %s/nonexistent.sock \"$@\"\n", filepath.Join(e.Bin, "signgate"), e.Dir)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := harness.PushBusybox(e.Registry+"/pullgate/other:v1", "sleep", "1"); err != nil {
		t.Fatal(err)
	}
	out, err = e.Crictl("pull", e.Registry+"/pullgate/other:v1")
	if err == nil {
		t.Fatalf("pulled with the daemon unreachable: %s", out)
	}
	mustDeny(t, fmt.Errorf("%s", out), "cannot reach the signgate daemon")
}

func TestPreverifiedOnPull(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	d := e.image("preverify/app", "k1") // pushes, signs, pulls
	finished := regexp.MustCompile(`msg="verification finished"[^\n]*` + regexp.QuoteMeta(d.DigestStr()))
	if err := harness.WaitFor(10*time.Second, func() error {
		if !finished.MatchString(e.SigngateLog.String()) {
			return fmt.Errorf("not pre-verified yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	id, err := e.Create(pod, cfg, e.Registry+"/preverify/app:v1")
	mustAllow(t, id, err)
	log := e.SigngateLog.String()
	decision := regexp.MustCompile(`msg="signgate allow [^"]*preverify/app:v1"[^\n]*`).FindString(log)
	if !strings.Contains(decision, "cached=true") {
		t.Fatalf("CreateContainer verified again instead of using the pre-verified verdict: %s", decision)
	}
	if n := len(finished.FindAllString(log, -1)); n != 1 {
		t.Fatalf("%s was verified %d times, want once (at pull)", d.DigestStr(), n)
	}
}

func TestWedgedSigngateIsRefusedByTheValidator(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("wedged/app", "k1")
	// Unsigned where the runtime has no validator, so that a creation
	// shows the gate open.
	wedged := "/wedged/app:v1"
	if !e.Containerd.HasValidator() {
		e.image("wedged/unsigned")
		wedged = "/wedged/unsigned:v1"
	}
	before := strings.Count(e.SigngateLog.String(), "connected to NRI")
	if err := e.PauseSigngate(); err != nil {
		t.Fatal(err)
	}
	_, err := e.Create(pod, cfg, e.Registry+wedged)
	if rerr := e.ResumeSigngate(); rerr != nil {
		t.Fatal(rerr)
	}
	if e.Containerd.HasValidator() {
		// containerd timed out on CreateContainer and dropped signgate, then
		// the validator call failed: the container is refused, not created.
		mustDeny(t, err, "validator plugin 10-signgate failed")
	} else if err != nil {
		// Without a validator (before 2.2) containerd drops the plugin that
		// timed out and creates the container: documented as failing open.
		t.Fatalf("containerd %s with signgate wedged: the documented fail-open did not happen: %v", e.Containerd.Version, err)
	}

	if err := harness.WaitFor(15*time.Second, func() error {
		if strings.Count(e.SigngateLog.String(), "connected to NRI") <= before {
			return fmt.Errorf("signgate has not reconnected")
		}
		_, err := e.Create(pod, cfg, e.Registry+"/wedged/app:v1")
		return err
	}); err != nil {
		t.Fatalf("after resuming: %v", err)
	}
}
