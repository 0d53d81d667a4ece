package main

import (
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
