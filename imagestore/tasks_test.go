package imagestore

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// stubbornTasks is a task service whose task ignores SIGTERM (as a pause
// process, PID 1, does) and whose Wait ends with the server's own
// DeadlineExceeded: containerd enforces the deadline gRPC propagates, and
// may answer so before the caller's context has noticed it expired.
type stubbornTasks struct {
	tasksapi.UnimplementedTasksServer
	code    codes.Code // how Wait ends
	mu      sync.Mutex
	signals []syscall.Signal
}

func (s *stubbornTasks) Wait(context.Context, *tasksapi.WaitRequest) (*tasksapi.WaitResponse, error) {
	return nil, status.Error(s.code, "context deadline exceeded")
}

func (s *stubbornTasks) Kill(_ context.Context, r *tasksapi.KillRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, syscall.Signal(r.GetSignal()))
	return &emptypb.Empty{}, nil
}

// A task that outlives its grace is killed even when the wait's timeout
// comes back from containerd as a DeadlineExceeded status before the
// caller's context expires, or (containerd 2.4, from the shim) as Unknown
// saying "context deadline exceeded": before, the stop failed ("waiting
// for its task to exit") and the untrusted task went on running.
func TestStopTaskKillsWhenContainerdEndsTheWait(t *testing.T) {
	for _, c := range []codes.Code{codes.DeadlineExceeded, codes.Unknown} {
		t.Run(c.String(), func(t *testing.T) { stopStubborn(t, c) })
	}
}

func stopStubborn(t *testing.T, code codes.Code) {
	sock := filepath.Join(t.TempDir(), "tasks.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	tasks := &stubbornTasks{code: code}
	tasksapi.RegisterTasksServer(srv, tasks)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	s, err := Dial(sock, "k8s.io", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StopTask(context.Background(), "c1", time.Minute); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	tasks.mu.Lock()
	defer tasks.mu.Unlock()
	if len(tasks.signals) != 2 || tasks.signals[0] != syscall.SIGTERM || tasks.signals[1] != syscall.SIGKILL {
		t.Fatalf("signals sent: %v, want SIGTERM then SIGKILL", tasks.signals)
	}
}
