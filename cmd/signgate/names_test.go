package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The commands that report take --output json alone: --json and -o json,
// which other tools spell so, are refused naming --output, in JSON when
// that is what was asked for.
func TestJSONSpellingsNameOutput(t *testing.T) {
	cfg := writeConfig(t, allowAll)
	for _, args := range [][]string{
		{"verify", "--config", cfg, digestRef, "--json"},
		{"check-config", "--config", cfg, "-o", "json"},
		{"ps", "--config", cfg, "-json"},
		{"doctor", "--config", cfg, "--o=json"},
	} {
		r := signgate(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "--output json") {
			t.Errorf("signgate %s: exit %d, want 2 naming --output json\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, `"error"`) {
			t.Errorf("signgate %s: the usage error is not JSON:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}

// version takes no arguments: one is a usage error, exit 2, as elsewhere.
func TestVersionRefusesArguments(t *testing.T) {
	for _, a := range []string{"--bogus", "extra"} {
		r := signgate(t, nil, "version", a)
		if r.code != 2 || !strings.Contains(r.stderr, a) {
			t.Errorf("signgate version %s: exit %d, want 2 naming it\n%s%s", a, r.code, r.stdout, r.stderr)
		}
	}
	if r := signgate(t, nil, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "signgate ") {
		t.Errorf("signgate version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Each flag's help names its value's type as the others do (no backquoted
// word taken for it), and states its default once.
func TestFlagHelpReadsAlike(t *testing.T) {
	for _, args := range [][]string{
		{"run"}, {"verify"}, {"inspect"}, {"preview"}, {"check-config"}, {"keys", "list"}, {"ps"},
		{"doctor"}, {"healthcheck"}, {"policy", "push"}, {"image-verifier"},
	} {
		r := signgate(t, nil, append(args, "--help")...)
		name := strings.Join(args, " ")
		if strings.Contains(r.stdout, "-crio-socket crio") {
			t.Errorf("signgate %s --help: --crio-socket's value is named from its usage:\n%s", name, r.stdout)
		}
		if strings.Contains(r.stdout, "Usage of") {
			t.Errorf("signgate %s --help: a second usage header:\n%s", name, r.stdout)
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Count(l, "(default") > 1 {
				t.Errorf("signgate %s --help: a default stated twice: %s", name, l)
			}
		}
	}
}

// Nothing to ask is exit 3 wherever it happens, as signgate ps says it:
// a script tells it from a finding (1) and from its own mistake (2).
func TestNothingToAskIsExit3(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none.sock")
	cfg := writeConfig(t, fmt.Sprintf("[daemon]\ncontainerd_socket = %q\n", none)+allowAll[len("\n[daemon]\n"):])
	r := signgate(t, nil, "doctor", "--config", cfg, "--output", "json")
	if r.code != 3 || !strings.Contains(r.stdout, none) {
		t.Errorf("doctor, containerd not there: exit %d, want 3 naming %s\n%s%s", r.code, none, r.stdout, r.stderr)
	}
	r = signgate(t, nil, "keys", "sync", "--config", cfg, "--socket", none)
	if r.code != 3 || !strings.Contains(r.stderr, none) {
		t.Errorf("keys sync, no daemon: exit %d, want 3 naming %s\n%s%s", r.code, none, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"doctor"}, {"keys", "list"}, {"ps"}} {
		if r := signgate(t, nil, append(args, "--help")...); !strings.Contains(r.stdout, "3: ") {
			t.Errorf("signgate %s --help does not say what exit 3 means:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}

// signgate --help names every subcommand a command takes, as the command's
// own --help does: policy export was missing.
func TestUsageNamesEverySubcommand(t *testing.T) {
	r := signgate(t, nil, "--help")
	for _, w := range []string{"policy build|push|export", "keys list|sync"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("signgate --help lacks %q:\n%s", w, r.stdout)
		}
	}
}
