package crio

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRI answers ListContainers and StopContainer as CRI-O would.
type fakeCRI struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	mu      sync.Mutex
	stopped map[string]int64 // id -> the timeout asked; -1 for a pod sandbox
}

var pods = []*runtimeapi.PodSandbox{{Id: "p", State: runtimeapi.PodSandboxState_SANDBOX_READY}, {Id: "q", State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}}

func (f *fakeCRI) ListPodSandbox(_ context.Context, r *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	var out []*runtimeapi.PodSandbox
	for _, p := range pods {
		if st := r.GetFilter().GetState(); (st == nil || st.GetState() == p.GetState()) && (r.GetFilter().GetId() == "" || r.GetFilter().GetId() == p.GetId()) {
			out = append(out, p)
		}
	}
	return &runtimeapi.ListPodSandboxResponse{Items: out}, nil
}

func (f *fakeCRI) StopPodSandbox(_ context.Context, r *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[r.GetPodSandboxId()] = -1
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeCRI) ListContainers(_ context.Context, r *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	all := []*runtimeapi.Container{{Id: "a", State: runtimeapi.ContainerState_CONTAINER_RUNNING}, {Id: "b", State: runtimeapi.ContainerState_CONTAINER_EXITED}}
	var out []*runtimeapi.Container
	for _, c := range all {
		if st := r.GetFilter().GetState(); st == nil || st.GetState() == c.GetState() {
			out = append(out, c)
		}
	}
	return &runtimeapi.ListContainersResponse{Containers: out}, nil
}

func (f *fakeCRI) StopContainer(_ context.Context, r *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[r.GetContainerId()] = r.GetTimeout()
	return &runtimeapi.StopContainerResponse{}, nil
}

func serveCRI(t *testing.T) (*fakeCRI, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cri") // short: a unix socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "crio.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCRI{stopped: map[string]int64{}}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return f, sock
}

// With crio_socket named, the store lists what runs (containers running,
// sandboxes ready) and stops a container through CRI-O's CRI
// (StopContainer, the grace period in seconds), a pod sandbox with
// StopPodSandbox.
func TestStoreStopsThroughCRI(t *testing.T) {
	f, sock := serveCRI(t)
	s := &Store{CRI: &CRI{Socket: sock}}
	defer s.Close()
	ctx := context.Background()
	live, err := s.RunningTasks(ctx)
	if err != nil || len(live) != 2 || !live["a"] || !live["p"] {
		t.Fatalf("running: %v %v", live, err)
	}
	if err := s.StopTask(ctx, "a", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.StopTask(ctx, "p", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, ok := f.stopped["a"]; !ok || got != 10 || f.stopped["p"] != -1 || len(f.stopped) != 2 {
		t.Fatalf("stopped: %v", f.stopped)
	}
}

// Without it, nothing is stopped, and the error says what to set; a CRI
// that does not answer is an error naming the socket and the container.
func TestStoreWithoutCRIStopsNothing(t *testing.T) {
	err := (&Store{}).StopTask(context.Background(), "a", time.Second)
	if err == nil || !strings.Contains(err.Error(), "crio_socket") || !strings.Contains(err.Error(), "container a") {
		t.Fatalf("no socket: %v", err)
	}
	if _, err := (&Store{}).RunningTasks(context.Background()); err == nil {
		t.Fatal("no socket: RunningTasks answered")
	}
	missing := filepath.Join(t.TempDir(), "gone.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = (&Store{CRI: &CRI{Socket: missing}}).StopTask(ctx, "a", time.Second)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "container a") {
		t.Fatalf("no CRI-O there: %v", err)
	}
}
