package daemon

import (
	"context"
	"time"
)

// A refused sandbox must not run. containerd starts a pod sandbox's task
// (the pause process, the pause image's code in the pod's namespaces)
// before it asks NRI's RunPodSandbox. From 2.2, CRI shuts the sandbox
// down when signgate refuses it; before 2.2 it returns the error and
// leaves the task running, recorded nowhere CRI can reach (no pod to list,
// stop or remove), so a refused pause image ran until the node rebooted.
// signgate stops that task itself, at once and without grace: where CRI
// shuts it down too, the task is gone already, which is not an error.

// refusedSandboxTimeout bounds stopping one refused sandbox's task.
const refusedSandboxTimeout = 30 * time.Second

// stopRefusedSandbox stops, in the background, the task of the pod
// sandbox id that RunPodSandbox refused.
func (d *Daemon) stopRefusedSandbox(id string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), refusedSandboxTimeout)
		defer cancel()
		if err := d.running.tasks.StopTask(ctx, id, 0); err != nil {
			d.log.Warn("could not stop the task of a refused pod sandbox; its pause process may still run", "id", id, "err", err)
			return
		}
		d.log.Info("stopped the task of a refused pod sandbox", "id", id)
	}()
}
