package config

import (
	"strings"
	"testing"
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
