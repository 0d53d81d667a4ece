package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// stop_unanswered_after is off unless a policy says; it must be a positive
// duration, and is refused (naming the policy and the key) on a policy
// that does not stop.
func TestStopUnansweredAfter(t *testing.T) {
	body := "[[policy]]\nname = \"a\"\nscopes = [\"**\"]\nmode = \"allow\"\non_untrusted_running = %q\nstop_unanswered_after = %q\n" +
		"[[policy]]\nname = \"b\"\nscopes = [\"x.io/**\"]\nmode = \"allow\"\non_untrusted_running = \"stop\"\n"
	c, err := Parse("c.toml", []byte(fmt.Sprintf(body, "stop", "6h")))
	if err != nil {
		t.Fatal(err)
	}
	for policy, want := range map[string]time.Duration{"a": 6 * time.Hour, "b": 0, "gone": 0} {
		if got := c.Running.UnansweredLimitFor(policy); got != want {
			t.Errorf("policy %s: %s, want %s", policy, got, want)
		}
	}
	for _, bad := range []string{"0s", "-1h", "never"} {
		if _, err := Parse("c.toml", []byte(fmt.Sprintf(body, "stop", bad))); err == nil || !strings.Contains(err.Error(), `policy[0] "a".stop_unanswered_after = "`+bad+`"`) {
			t.Errorf("stop_unanswered_after = %q: %v", bad, err)
		}
	}
	for _, action := range []string{"report", ""} {
		b := fmt.Sprintf(body, action, "6h")
		if action == "" {
			b = strings.Replace(b, "on_untrusted_running = \"\"\n", "", 1)
		}
		_, err := Parse("c.toml", []byte(b))
		if err == nil || !strings.Contains(err.Error(), `policy[0] "a".stop_unanswered_after = "6h": only with on_untrusted_running = "stop" (the policy's is "report")`) {
			t.Errorf("with on_untrusted_running %q: %v", action, err)
		}
	}
}
