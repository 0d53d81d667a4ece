package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// signgateOK runs the suite's signgate binary with args and returns its
// trimmed stdout; a failure ends the test with the command, its output
// and its stderr.
func signgateOK(t *testing.T, e *env, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(e.Bin, "signgate"), args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("signgate %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}
