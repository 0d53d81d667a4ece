package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// on_untrusted_running is report unless a policy says stop; anything else
// is refused naming the policy and the key.
func TestOnUntrustedRunning(t *testing.T) {
	body := func(a, b string) string {
		return "[[policy]]\nname = \"a\"\nscopes = [\"**\"]\nmode = \"allow\"\n" + a +
			"\n[[policy]]\nname = \"b\"\nscopes = [\"x.io/**\"]\nmode = \"allow\"\n" + b + "\n"
	}
	c, err := Parse("c.toml", []byte(body(`on_untrusted_running = "stop"`, "")))
	if err != nil {
		t.Fatal(err)
	}
	for policy, want := range map[string]RunningAction{"a": RunningStop, "b": RunningReport, "gone": RunningReport} {
		if got := c.Running.For(policy); got != want {
			t.Errorf("policy %s: %s, want %s", policy, got, want)
		}
	}
	_, err = Parse("c.toml", []byte(body("", `on_untrusted_running = "kill"`)))
	if err == nil || !strings.Contains(err.Error(), `policy[1] "b".on_untrusted_running = "kill"`) || !strings.Contains(err.Error(), "c.toml") {
		t.Fatalf("a bad action: %v", err)
	}
}

// stop_confirm is a minute unless a policy says otherwise; it must be a
// positive duration, named with its policy when it is not.
func TestStopConfirm(t *testing.T) {
	body := "[[policy]]\nname = \"a\"\nscopes = [\"**\"]\nmode = \"allow\"\non_untrusted_running = \"stop\"\nstop_confirm = %q\n" +
		"[[policy]]\nname = \"b\"\nscopes = [\"x.io/**\"]\nmode = \"allow\"\n"
	c, err := Parse("c.toml", []byte(fmt.Sprintf(body, "5s")))
	if err != nil {
		t.Fatal(err)
	}
	for policy, want := range map[string]time.Duration{"a": 5 * time.Second, "b": time.Minute, "gone": time.Minute} {
		if got := c.Running.ConfirmFor(policy); got != want {
			t.Errorf("policy %s: %s, want %s", policy, got, want)
		}
	}
	for _, bad := range []string{"0s", "-1m", "soon"} {
		if _, err := Parse("c.toml", []byte(fmt.Sprintf(body, bad))); err == nil || !strings.Contains(err.Error(), `policy[0] "a".stop_confirm = "`+bad+`"`) {
			t.Errorf("stop_confirm = %q: %v", bad, err)
		}
	}
}
