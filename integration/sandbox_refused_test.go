package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// A pod sandbox refused at RunPodSandbox does not keep running. containerd
// starts the sandbox's task (the pause image's code) before NRI's
// RunPodSandbox; from 2.2 CRI shuts it down on the refusal, but before 2.2
// it left the task running where no CRI call reaches it. signgate stops
// it: no task started by the refused creation still runs.
func TestRefusedSandboxDoesNotRun(t *testing.T) {
	e := need(t)
	before, err := e.RunningTasks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The pause image needs the cli key, which never signs it.
	e.withConfig(func(c string) string {
		return strings.Replace(c, fmt.Sprintf("scopes = [\"%s/pause\"]\nmode = \"allow\"", e.Registry), fmt.Sprintf("scopes = [\"%s/pause\"]\n  [policy.cosign]\n  keys = [\"cli\"]", e.Registry), 1)
	})
	mark := e.logMark()
	_, _, err = e.Pod("default")
	mustDeny(t, err, "pod sandbox: signgate denied image "+e.Registry+"/pause:1.0")
	var left []string
	if err := harness.WaitFor(10*time.Second, func() error {
		now, err := e.RunningTasks(t.Context())
		if err != nil {
			return err
		}
		left = left[:0]
		for id := range now {
			if !before[id] {
				left = append(left, id)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("tasks still running after the refusal: %v", left)
		}
		return nil
	}); err != nil {
		t.Fatalf("containerd %s: %v\n%s", e.Containerd.Version, err, e.logSince(mark))
	}
}
