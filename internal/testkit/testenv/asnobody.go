package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// ServeAsNobody starts the test binary again as uid 65534, running only the
// test named run with envVar set to a socket path in a directory anyone may
// write (the point of the tests that use it: a stand-in another user put
// there). That test serves on the socket and prints "ready"; ServeAsNobody
// returns the socket once it has. Needs root (skips, or fails under make).
func ServeAsNobody(t *testing.T, run, envVar string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root: the stand-in runs as another user")
	}
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // others may write here: the point
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "crio.sock")
	cmd := exec.Command(bin, "-test.run=^"+run+"$")
	cmd.Env = append(os.Environ(), envVar+"="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if ready, err := bufio.NewReader(out).ReadString('\n'); err != nil || ready != "ready\n" {
		t.Fatalf("the stand-in did not start: %q %v", ready, err)
	}
	return sock
}
