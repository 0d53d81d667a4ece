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
// process, PID 1, does) and whose Wait ends with the server's own error:
// containerd enforces the deadline gRPC propagates, and may answer before
// the caller's context has noticed it expired.
type stubbornTasks struct {
	tasksapi.UnimplementedTasksServer
	waitErr error
	mu      sync.Mutex
	signals []syscall.Signal
}

func (s *stubbornTasks) Wait(context.Context, *tasksapi.WaitRequest) (*tasksapi.WaitResponse, error) {
	return nil, s.waitErr
}

func (s *stubbornTasks) Kill(_ context.Context, r *tasksapi.KillRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, syscall.Signal(r.GetSignal()))
	return &emptypb.Empty{}, nil
}

// A task that outlives its grace is killed whatever error ends the wait:
// containerd 2.x answers its own timeout as DeadlineExceeded, 1.7 as
// Unknown ("context deadline exceeded: unknown"), and either may come
// before the caller's context expires. Before, the stop failed ("waiting
// for its task to exit") and the untrusted task went on running: 1.7 in
// TestRunningSandboxJudgedAgain, after the 2.x case was fixed.
func TestStopTaskKillsWhenContainerdEndsTheWait(t *testing.T) {
	for name, waitErr := range map[string]error{
		"containerd 2.x": status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
		"containerd 1.7": status.Error(codes.Unknown, "context deadline exceeded: unknown"),
		"shim gone":      status.Error(codes.Unavailable, "ttrpc: closed"),
	} {
		t.Run(name, func(t *testing.T) { stopTaskKills(t, waitErr) })
	}
}

func stopTaskKills(t *testing.T, waitErr error) {
	sock := filepath.Join(t.TempDir(), "tasks.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	tasks := &stubbornTasks{waitErr: waitErr}
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
