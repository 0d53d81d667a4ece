package main

import (
	"strings"
	"testing"
)

// Every command's --help exits 0 and says what the command does, not only
// its flags.
func TestHelpSaysWhatEachCommandDoes(t *testing.T) {
	for _, args := range [][]string{
		{"run"}, {"verify"}, {"inspect"}, {"preview"}, {"check-config"},
		{"keys"}, {"keys", "list"}, {"keys", "sync"}, {"ps"}, {"image-verifier"},
		{"doctor"}, {"healthcheck"}, {"version"}, {"policy"}, {"policy", "build"}, {"policy", "push"}, {"policy", "export"},
	} {
		for _, h := range []string{"--help", "-h"} {
			r := signgate(t, nil, append(args, h)...)
			if r.code != 0 {
				t.Errorf("signgate %s %s: exit %d, want 0\n%s%s", strings.Join(args, " "), h, r.code, r.stdout, r.stderr)
				continue
			}
			if !strings.HasPrefix(r.stdout, "usage: signgate "+args[0]) || prose(r.stdout) < 1 {
				t.Errorf("signgate %s %s: want a usage line and what the command does, got:\n%s", strings.Join(args, " "), h, r.stdout)
			}
		}
	}
}

// prose counts the lines that are neither the usage line nor flags.
func prose(help string) int {
	n := 0
	for _, l := range strings.Split(help, "\n")[1:] {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "-") && !strings.HasPrefix(l, "    \t") && t != "flags:" {
			n++
		}
	}
	return n
}

// Flags may follow the image; a flag that is not one is named.
func TestFlagsAfterTheImage(t *testing.T) {
	cfg := writeConfig(t, allowAll)
	r := signgate(t, nil, "verify", digestRef, "--config", cfg, "--output", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"allowed": true`) {
		t.Fatalf("verify IMAGE --config F --output json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = signgate(t, nil, "verify", "--config", cfg, digestRef, "--bogus")
	if r.code != 2 || !strings.Contains(r.stderr, "-bogus") {
		t.Fatalf("verify IMAGE --bogus: exit %d, want 2 naming --bogus\n%s", r.code, r.stderr)
	}
	r = signgate(t, nil, "verify", "--config", cfg, digestRef, "another")
	if r.code != 2 || !strings.Contains(r.stderr, `"another"`) {
		t.Fatalf("verify IMAGE another: exit %d, want 2 naming the extra argument\n%s", r.code, r.stderr)
	}
}

// Every command that reads the config honours $SIGNGATE_CONFIG.
func TestSigngateConfigEnv(t *testing.T) {
	cfg := writeConfig(t, allowAll)
	env := []string{"SIGNGATE_CONFIG=" + cfg}
	r := signgate(t, env, "check-config")
	if r.code != 0 || !strings.Contains(r.stdout, cfg) {
		t.Errorf("SIGNGATE_CONFIG check-config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = signgate(t, env, "verify", digestRef)
	if r.code != 0 {
		t.Errorf("SIGNGATE_CONFIG verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A config that does not parse is named: the command read it.
	bad := writeConfig(t, "bogus = [")
	env = []string{"SIGNGATE_CONFIG=" + bad}
	for _, args := range [][]string{{"check-config"}, {"verify", digestRef}, {"inspect", digestRef}, {"doctor"}, {"preview", "--images", "-"}, {"run"}} {
		r = signgate(t, env, args...)
		if r.code != 2 || !strings.Contains(r.stderr+r.stdout, bad) {
			t.Errorf("signgate %v with SIGNGATE_CONFIG=%s: exit %d, does not read it\n%s%s", args, bad, r.code, r.stdout, r.stderr)
		}
	}
}
