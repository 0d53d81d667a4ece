package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bin is signgate, built once for these tests: they run the CLI as a user
// does, through the binary.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "signgate-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "signgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building signgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// signgate runs the binary with args; env entries are added to the
// environment, from which SIGNGATE_* is removed.
func signgate(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SIGNGATE_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("signgate %v: %v", args, err)
	}
	return r
}

// writeConfig writes a config and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// allowAll admits anything under example.com without verifying: deciding
// needs no registry.
const allowAll = `
[daemon]
state_dir = "/nonexistent/signgate-state"

[[policy]]
name = "all"
scopes = ["example.com/**"]
mode = "allow"
`

const digestRef = "example.com/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"
