package daemon

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// A refused sandbox's task is stopped at once, without grace: the pause
// process runs code signgate refused.
func TestRefusedSandboxIsStopped(t *testing.T) {
	tasks := &nodeTasks{running: map[string]bool{"sb1": true}, stopped: make(chan string, 1)}
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil)), running: &runningState{tasks: tasks}}
	d.stopRefusedSandbox("sb1")
	select {
	case got := <-tasks.stopped:
		if got != "sb1 0s" {
			t.Fatalf("stopped %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the refused sandbox's task was not stopped")
	}
}
