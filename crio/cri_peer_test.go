package crio

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// serveAsVar names the socket the test binary, started again as another
// user, serves a CRI on (TestServeCRIAsAnotherUser).
const serveAsVar = "SIGNGATE_TEST_SERVE_CRI"

// A stand-in for CRI-O run by another (non-root) user on crio_socket (a
// socket in a directory others can write) is not believed: it could say
// nothing runs, so that nothing is judged, or that a stop was done.
func TestCRINotFromAnotherUser(t *testing.T) {
	if os.Getenv(serveAsVar) != "" {
		return // the server's process: TestServeCRIAsAnotherUser
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root: the stand-in runs as another user")
	}
	dir, err := os.MkdirTemp("", "cri-peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // others may write here: the point
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "crio.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "crio.sock")
	cmd := exec.Command(bin, "-test.run=^TestServeCRIAsAnotherUser$")
	cmd.Env = append(os.Environ(), serveAsVar+"="+sock)
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
	s := &Store{CRI: &CRI{Socket: sock}}
	defer s.Close()
	if live, err := s.RunningTasks(context.Background()); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("a stand-in of uid 65534 was believed: %v %v", live, err)
	}
}

// TestServeCRIAsAnotherUser is the stand-in's process: a CRI that says
// what fakeCRI says, and "ready" once it listens.
func TestServeCRIAsAnotherUser(t *testing.T) {
	sock := os.Getenv(serveAsVar)
	if sock == "" {
		return // run only as TestCRINotFromAnotherUser's server
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, &fakeCRI{stopped: map[string]int64{}})
	fmt.Println("ready")
	_ = srv.Serve(l)
}
