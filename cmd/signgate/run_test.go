package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunExitCodes: 2 is for what the user typed or wrote (a flag, the
// config); a failure while starting (here a state directory that cannot be
// made) is 1, so a supervisor or script can tell "fix the command" from
// "look at the node".
func TestRunExitCodes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(file, "state")
	cfg := writeConfig(t, fmt.Sprintf("[daemon]\nstate_dir = %q\n", state)+allowAll[len("\n[daemon]\nstate_dir = \"/nonexistent/signgate-state\"\n"):])
	if r := signgate(t, nil, "run", "--config", cfg); r.code != exitError || !strings.Contains(r.stderr, state) {
		t.Errorf("run with a state_dir that cannot be made: exit %d (want %d, naming %s): %s", r.code, exitError, state, r.stderr)
	}
	bad := writeConfig(t, "[daemon]\nno_such_key = 1\n")
	if r := signgate(t, nil, "run", "--config", bad); r.code != exitUsage {
		t.Errorf("run with a bad config: exit %d, want %d: %s", r.code, exitUsage, r.stderr)
	}
	if r := signgate(t, nil, "run", "--no-such-flag"); r.code != exitUsage {
		t.Errorf("run with an unknown flag: exit %d, want %d: %s", r.code, exitUsage, r.stderr)
	}
}
