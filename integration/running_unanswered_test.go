package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/localapi"
)

// A running container whose registry stops answering signgate (it
// accepts connections and never answers: the proxy hangs signgate's
// requests) under a policy with on_untrusted_running = "stop" and
// stop_unanswered_after: re-judged after a reload, the verdict is not
// final and stops nothing at first; signgate asks again on its own and,
// the registry silent for stop_unanswered_after (9s), stops it through
// containerd, with a reason of its own.
func TestRunningContainerStoppedWhenItsRegistryNeverAnswers(t *testing.T) {
	e := need(t)
	policy := func(limit string) func(string) string {
		return func(c string) string {
			return strings.Replace(c, "[[policy]]\nname = \"sandbox\"", fmt.Sprintf("[[policy]]\nname = \"unanswered\"\nscopes = [%q]\non_untrusted_running = \"stop\"\nstop_confirm = \"2s\"\nstop_unanswered_after = %q\n  [policy.cosign]\n  keys = [\"k1\"]\n\n[[policy]]\nname = \"sandbox\"", e.Registry+"/unanswered/*", limit), 1)
		}
	}
	e.withConfig(policy("8s"))
	pod, podCfg := e.pod("default")
	img := e.image("unanswered/app", "k1")
	id, err := e.Create(pod, podCfg, e.Registry+"/unanswered/app:v1")
	mustAllow(t, id, err)
	e.mustRun(id)
	if rc, _, _ := e.ps(id); rc.Verdict != localapi.RunningTrusted || rc.Policy != "unanswered" {
		t.Fatalf("before the registry went silent: %+v", rc)
	}

	e.Proxy.Hang("unanswered/app")
	t.Cleanup(func() { e.Proxy.Hang("") })
	mark := e.logMark()
	// A second key for the policy: the verdict kept binds no longer, so
	// the reload's judgement asks the registry.
	e.withConfig(func(c string) string {
		return strings.Replace(c, "stop_unanswered_after = \"8s\"\n  [policy.cosign]\n  keys = [\"k1\"]", "stop_unanswered_after = \"9s\"\n  [policy.cosign]\n  keys = [\"k1\", \"k2\"]", 1)
	})
	if err := harness.WaitFor(90*time.Second, func() error {
		if s := e.state(id); s != "CONTAINER_EXITED" {
			return fmt.Errorf("the container its registry does not answer for is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.logSince(mark))
	}
	if len(e.logLines(mark, `msg="running container no longer trusted"`, "id="+id, "stop deferred: the verdict is not final", "unless the registry answers (stop_unanswered_after)")) == 0 {
		t.Fatalf("no log line for the deferred stop:\n%s", e.logSince(mark))
	}
	if len(e.logLines(mark, `msg="running container no longer trusted"`, "id="+id, `action="stop: unanswered for 9s (stop_unanswered_after)"`, "the registry left the verdict unanswered since")) == 0 {
		t.Fatalf("no log line for the stop's reason:\n%s", e.logSince(mark))
	}
	if len(e.logLines(mark, "stopped a running container its policy no longer trusts", "id="+id, "digest="+img.DigestStr())) == 0 {
		t.Fatalf("no log line for the stop:\n%s", e.logSince(mark))
	}
}
