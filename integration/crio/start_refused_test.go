package crio

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/localapi"
)

// TestCRIORefusedStartIsJudgedAndStopped: CRI-O starts a container whose
// start signgate refused (TestCRIOStartRefusalIsIgnored), so signgate
// lists it as running and judges it at once: `signgate ps` shows it
// untrusted and, under on_untrusted_running = "stop" with crio_socket, it
// is stopped once the denial is confirmed, through CRI-O's CRI.
func TestCRIORefusedStartIsJudgedAndStopped(t *testing.T) {
	e := need(t)
	good := keepConfig(t, e)
	withPolicy := func(key string) string {
		p := fmt.Sprintf("[[policy]]\nname = \"startrefused\"\nscopes = [\"%s/startrefused/*\"]\non_untrusted_running = \"stop\"\nstop_confirm = \"5s\"\n  [policy.cosign]\n  keys = [%q]\n\n", e.Registry, key)
		c := strings.Replace(good, "[[policy]]\nname = \"apps\"", p+"[[policy]]\nname = \"apps\"", 1)
		return withCRIOSocket(e, c, "crio")
	}
	if cfg := withPolicy("k1"); !strings.Contains(cfg, `name = "startrefused"`) || !strings.Contains(cfg, "crio_socket") {
		t.Fatalf("the suite's config has no CRI-O runtime or apps policy to extend:\n%s", good)
	} else if err := e.RestartSigngate(cfg); err != nil {
		t.Fatalf("signgate with a stop policy and crio_socket on CRI-O: %v\n%s", err, e.SigngateLog.String())
	}
	podID, podCfg := pod(t, e)
	d := image(t, e, "startrefused/app", "k1")
	id, err := e.Create(podID, podCfg, e.Registry+"/startrefused/app:v1")
	if err != nil {
		t.Fatalf("signed image refused: %v", err)
	}
	// The key is revoked between creation and start.
	mark := len(e.SigngateLog.String())
	if took, err := e.ReloadSigngate(withPolicy("k2")); err != nil || !took {
		t.Fatalf("reload: %v %v\n%s", took, err, e.SigngateLog.String()[mark:])
	}
	if out, err := e.Crictl("start", id); err != nil {
		t.Fatalf("CRI-O refused the start (TestCRIOStartRefusalIsIgnored says it does not): %v: %s", err, out)
	}
	// Listed by ps, untrusted, though NRI never reported it started.
	var listed localapi.RunningContainer
	if err := harness.WaitFor(20*time.Second, func() error {
		out, _ := exec.Command(filepath.Join(e.Bin, "signgate"), "ps", "--socket", e.APISocket(), "--output", "json").Output()
		var r localapi.RunningResponse
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("signgate ps --output json: %v: %s", err, out)
		}
		for _, c := range r.Containers {
			if c.ID == id {
				listed = c
				if c.Verdict == localapi.RunningUntrusted {
					return nil
				}
			}
		}
		return fmt.Errorf("signgate ps does not list %s untrusted: %s", id, out)
	}); err != nil {
		t.Fatalf("%v\n%s", err, e.SigngateLog.String()[mark:])
	}
	if listed.Digest != d || listed.Policy != "startrefused" {
		t.Errorf("listed as %+v", listed)
	}
	if err := harness.WaitFor(60*time.Second, func() error {
		if s := state(e, id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the container whose start was refused is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
	}
	if len(logLines(e, mark, "stopped a running container its policy no longer trusts", "id="+id, "policy=startrefused")) == 0 {
		t.Fatalf("no log line for the stop:\n%s", e.SigngateLog.String()[mark:])
	}
}
