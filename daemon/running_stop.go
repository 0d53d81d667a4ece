package daemon

import (
	"context"

	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
)

// stop stops the container once, in the background (its processes get
// stopGrace), and says how it is going. A pod's sandbox is stopped as any
// container is, under its image's policy: its pause process runs code no
// longer trusted in the pod's namespaces. That stops the pod: the kubelet
// sees its sandbox gone, stops its containers and asks for a new sandbox,
// which RunPodSandbox judges again (and refuses while the pause image is
// untrusted). A policy for the pause image with on_untrusted_running =
// "report" keeps pods running instead.
func (d *Daemon) stop(j nri.Judged, rc localapi.RunningContainer, policy string) string {
	r := d.running
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	if st, ok := r.stopping[j.ID]; ok {
		return st
	}
	r.stopping[j.ID] = "stop: stopping"
	go func() {
		err := r.tasks.StopTask(context.Background(), j.ID, stopGrace)
		st, result := "stop: stopped", "ok"
		attrs := []any{"pod", j.Pod, "namespace", j.Namespace, "container", j.Name, "id", j.ID, "image", rc.Image, "digest", rc.Digest, "policy", policy, "sandbox", j.Sandbox}
		if err != nil {
			st, result = "stop failed: "+err.Error(), "error"
			d.log.Error("could not stop a running container its policy no longer trusts", append(attrs, "err", err)...)
		} else {
			d.log.Warn("stopped a running container its policy no longer trusts (on_untrusted_running = \"stop\"); a restart is judged again", attrs...)
		}
		r.stops.WithLabelValues(or(policy, "(none)"), result).Inc()
		r.stopMu.Lock()
		defer r.stopMu.Unlock()
		if err != nil {
			delete(r.stopping, j.ID) // the next judgement tries again
			return
		}
		r.stopping[j.ID] = st
	}()
	return "stop: stopping"
}
