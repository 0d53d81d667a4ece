package crio

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
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
	sock := testenv.ServeAsNobody(t, "TestServeCRIAsAnotherUser", serveAsVar)
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
