package daemon

import (
	"context"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/registry/podsecrets"
	"github.com/signgate/signgate/setup"
)

// usePodSecrets builds the pod pull-secret source cfg asks for and puts it
// in force; a reload that leaves [registry.pod_pull_secrets] as it was
// keeps the one in force, and what it has read.
func (d *Daemon) usePodSecrets(cfg *setup.Config, old *setup.Config) error {
	if old != nil && reflect.DeepEqual(old.Registry.PodPullSecrets, cfg.Registry.PodPullSecrets) {
		return nil
	}
	src, err := cfg.PodSecrets()
	if err != nil {
		return err
	}
	d.podSecrets.Store(src)
	return nil
}

// podCredentials is the pod's pull secrets for its verifications, when
// [registry.pod_pull_secrets] is on. A lookup that fails is logged, never
// with a secret's content, and the pod is verified with the node's
// credentials (see nri.PodCredentials).
func (d *Daemon) podCredentials(ctx context.Context, pod *api.PodSandbox) registry.PodCredentials {
	src := d.podSecrets.Load()
	if src == nil {
		return nil
	}
	source := pod.GetAnnotations()["kubernetes.io/config.source"]
	p := podsecrets.Pod{Namespace: pod.GetNamespace(), Name: pod.GetName(), UID: pod.GetUid(), Static: source == "file" || source == "http"}
	start := time.Now()
	pull, err := src.ForPod(ctx, p)
	if err != nil {
		d.podLookups.WithLabelValues("failed").Inc()
		d.log.Warn("pod pull secrets: lookup failed; verifying with the node's credentials", "pod", p.String(), "uid", p.UID, "err", err, "took", time.Since(start).Round(time.Microsecond))
		return pull
	}
	d.podLookups.WithLabelValues("ok").Inc()
	return pull
}

// newPodLookups counts pods' pull-secret lookups by result (ok, failed:
// the API server could not be read, or refused; the pod was verified with
// the node's credentials), for an alert on a missing RBAC grant or an
// unreachable API server.
func newPodLookups(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signgate_pod_secret_lookups_total", Help: "Lookups of a pod's image pull secrets ([registry.pod_pull_secrets]), by result: ok, or failed (the API server could not be read; the pod was verified with the node's credentials).",
	}, []string{"result"})
	reg.MustRegister(c)
	return c
}
