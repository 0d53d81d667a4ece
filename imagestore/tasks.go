package imagestore

import (
	"context"
	"fmt"
	"syscall"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RunningTasks names the containers whose task runs (or is paused) now, in
// the store's namespace: NRI says when a container starts, not when its
// process exits.
func (s *Store) RunningTasks(ctx context.Context) (map[string]bool, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	resp, err := tasksapi.NewTasksClient(s.conn).List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing containerd's tasks: %w", err)
	}
	out := map[string]bool{}
	for _, t := range resp.GetTasks() {
		switch t.GetStatus() {
		case task.Status_RUNNING, task.Status_PAUSED, task.Status_PAUSING:
			out[t.GetID()] = true
		}
	}
	return out, nil
}

// StopTask stops a container's task as CRI's StopContainer does: SIGTERM
// to every process in it, and SIGKILL if it has not exited within grace.
// CRI sees the exit in containerd's events and reports the container
// exited; whatever restarts it (the kubelet) creates a new container,
// which passes signgate again. A task already gone is not an error.
func (s *Store) StopTask(ctx context.Context, id string, grace time.Duration) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	tasks := tasksapi.NewTasksClient(s.conn)
	// Waiting is asked for before the signal, so the exit is not missed.
	wctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	exited := make(chan error, 1)
	go func() {
		_, err := tasks.Wait(wctx, &tasksapi.WaitRequest{ContainerID: id})
		exited <- err
	}()
	if err := kill(ctx, tasks, id, syscall.SIGTERM); err != nil {
		return err
	}
	err := <-exited
	if err == nil || status.Code(err) == codes.NotFound {
		return nil
	}
	// Any other end of the wait means the exit was not seen, and the task
	// is killed: the grace is over when either side says so (containerd
	// enforces the deadline gRPC sends it and may answer first, 2.x with
	// DeadlineExceeded, 1.7 with Unknown), and a wait that broke for
	// another reason cannot tell that the untrusted task ended.
	if errKill := kill(ctx, tasks, id, syscall.SIGKILL); errKill != nil {
		return fmt.Errorf("%w (after the wait for its exit ended: %v)", errKill, err)
	}
	return nil
}

func kill(ctx context.Context, tasks tasksapi.TasksClient, id string, sig syscall.Signal) error {
	_, err := tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: id, Signal: uint32(sig), All: true})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("container %s: sending %v to its task: %w", id, sig, err)
	}
	return nil
}
