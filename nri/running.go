package nri

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// Running containers, so that a revoked key, a trust root that changed or
// a tightened policy reaches what already runs, not only what is created
// next. containerd lists its containers to the plugin at Synchronize, on
// every (re)connection; StartContainer adds each one started since (and
// one whose start it refused, which CRI-O runs all the same), and
// RemoveContainer drops it. A container that exited but is not removed yet
// stays listed: the daemon asks containerd which tasks run.
//
// A pod's sandbox is listed too, under the sandbox's ID: its pause process
// runs its image's code in the pod's namespaces, so a revoked key on the
// pause image reaches it as it reaches any container. RunPodSandbox adds
// it, StopPodSandbox and RemovePodSandbox drop it.

// RunningContainer is a container signgate has seen started.
type RunningContainer struct {
	ID        string
	Name      string
	Pod       string
	Namespace string
	PodID     string
	Ref       string // the image as the container names it
	// Sandbox: this is the pod's sandbox (ID is the sandbox's), not one
	// of its containers; stopping it stops the pod.
	Sandbox bool
	// StartedRefused: the runtime said it started the container though its
	// start was refused (CRI-O's post-start), and has not been seen
	// listing it running since (CRI-O records the start after telling
	// NRI): it runs, whatever the task list says (Listed).
	StartedRefused bool
	// RefusedOnly: its start was refused and the runtime has not said it
	// started it all the same: where the runtime honours a refusal
	// (containerd), it never ran.
	RefusedOnly bool
}

// Judged is a running container with its images decided again.
type Judged struct {
	RunningContainer
	// Decision is the first refusal among what the container runs and
	// mounts, else its own image's verdict (whose VerifiedBy says what
	// trusts it).
	Decision Decision
	// RefusedStart: Decision is signgate's refusal of its start, for a
	// doubt about which image it runs, kept (runningEntry.refused): it runs
	// against signgate's word, which is final, whatever the doubt's cause.
	RefusedStart bool
}

// runningSet is what the plugin knows runs.
type runningSet struct {
	mu sync.Mutex
	m  map[string]runningEntry
}

type runningEntry struct {
	pod *api.PodSandbox
	ctr *api.Container // nil for the pod's sandbox
	// creds: the pod's credentials its sandbox was admitted with
	// (RunPodSandbox), for its judgements (rejudgecreds.go); a
	// container's are in its requests (createdSet).
	creds registry.PodCredentials
	// refused: the doubt its start was refused for, its verdict for as
	// long as it runs (start_doubt.go).
	refused *Decision
}

func (r *runningSet) add(pod *api.PodSandbox, ctr *api.Container) {
	r.addRefused(pod, ctr, nil)
}

// kept is what judging a container needs of it (decideContainer reads
// these), not its whole spec (environment, arguments, resources), which
// would be held for as long as it runs.
func kept(pod *api.PodSandbox, ctr *api.Container) runningEntry {
	return runningEntry{
		pod: keptPod(pod),
		ctr: &api.Container{Id: ctr.GetId(), Name: ctr.GetName(), PodSandboxId: ctr.GetPodSandboxId(), Annotations: ctr.GetAnnotations(), Mounts: ctr.GetMounts(), Image: ctr.GetImage()},
	}
}

// keptPod is what looking the pod's credentials up again needs of it
// (daemon.podCredentials): its names, UID, and whether it is static.
func keptPod(pod *api.PodSandbox) *api.PodSandbox {
	out := &api.PodSandbox{Id: pod.GetId(), Name: pod.GetName(), Namespace: pod.GetNamespace(), Uid: pod.GetUid()}
	if src, ok := pod.GetAnnotations()[configSource]; ok {
		out.Annotations = map[string]string{configSource: src}
	}
	return out
}

// configSource is the kubelet's annotation saying where a pod came from:
// a static pod ("file", "http") names no pull secret.
const configSource = "kubernetes.io/config.source"

// addSandbox lists the pod's sandbox as running, admitted with creds.
func (r *runningSet) addSandbox(pod *api.PodSandbox, creds registry.PodCredentials) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]runningEntry{}
	}
	e := keptSandbox(pod)
	e.creds = creds
	r.m[pod.GetId()] = e
}

func keptSandbox(pod *api.PodSandbox) runningEntry {
	return runningEntry{pod: keptPod(pod)}
}

func (r *runningSet) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

func (r *runningSet) get(id string) (runningEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[id]
	return e, ok
}

// replace puts in what containerd lists at Synchronize: the whole truth
// at that moment, so a container removed while signgate was away goes. A
// sandbox still listed (same ID, same pod UID) keeps the credentials it
// was admitted with, as a container's requests do (created.retain); a
// container still listed keeps the doubt its start was refused for.
func (r *runningSet) replace(m map[string]runningEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range m {
		if old, ok := r.m[id]; ok && e.ctr == nil && old.ctr == nil && old.creds != nil && old.pod.GetUid() == e.pod.GetUid() {
			e.creds = old.creds
			m[id] = e
		}
		if old, ok := r.m[id]; ok && e.ctr != nil && old.ctr != nil && old.refused != nil {
			e.refused = old.refused
			m[id] = e
		}
	}
	r.m = m
}

var _ stub.SynchronizeInterface = (*Plugin)(nil)

// Synchronize learns the containers running on the node when signgate
// (re)connects. It answers at once: containerd holds its NRI lock while
// plugins synchronize, and judging them is the daemon's job, afterwards.
func (p *Plugin) Synchronize(_ context.Context, pods []*api.PodSandbox, ctrs []*api.Container) ([]*api.ContainerUpdate, error) {
	p.fallback.started() // the subscription was accepted (fallback.go)
	byID := make(map[string]*api.PodSandbox, len(pods))
	for _, pod := range pods {
		byID[pod.GetId()] = pod
	}
	m := map[string]runningEntry{}
	// Every sandbox listed: the daemon keeps those whose task runs.
	for _, pod := range pods {
		m[pod.GetId()] = keptSandbox(pod)
	}
	for _, c := range ctrs {
		switch c.GetState() {
		case api.ContainerState_CONTAINER_RUNNING, api.ContainerState_CONTAINER_PAUSED:
			m[c.GetId()] = kept(byID[c.GetPodSandboxId()], c)
		}
	}
	p.running.replace(m)
	listed := make(map[string]bool, len(ctrs))
	for _, c := range ctrs {
		listed[c.GetId()] = true
	}
	p.created.retain(listed)
	if p.Synchronized != nil {
		p.Synchronized()
	}
	return nil, nil
}

// Running lists the containers signgate knows were started and not
// removed, sorted by namespace, pod and container.
func (p *Plugin) Running() []RunningContainer {
	p.running.mu.Lock()
	out := make([]RunningContainer, 0, len(p.running.m))
	for _, e := range p.running.m {
		out = append(out, describeRunning(e))
	}
	p.running.mu.Unlock()
	for i := range out {
		if started, ok := p.startRefused.Load(out[i].ID); ok {
			out[i].StartedRefused = started.(bool)
			out[i].RefusedOnly = !started.(bool)
		}
	}
	slices.SortFunc(out, func(a, b RunningContainer) int {
		return strings.Compare(a.Namespace+"\x00"+a.Pod+"\x00"+a.Name+"\x00"+a.ID, b.Namespace+"\x00"+b.Pod+"\x00"+b.Name+"\x00"+b.ID)
	})
	return out
}

func describeRunning(e runningEntry) RunningContainer {
	if e.ctr == nil {
		return RunningContainer{ID: e.pod.GetId(), Name: sandboxName, Pod: e.pod.GetName(), Namespace: e.pod.GetNamespace(), PodID: e.pod.GetId(), Sandbox: true}
	}
	return RunningContainer{
		ID: e.ctr.GetId(), Name: e.ctr.GetName(), Pod: e.pod.GetName(), Namespace: e.pod.GetNamespace(),
		PodID: e.pod.GetId(), Ref: e.ctr.GetAnnotations()[containers.ImageNameAnnotation],
	}
}

// Judge decides again what the running container id runs and mounts, as
// StartContainer would: from what was bound when it was created (the
// verdict cache answers), or, for a container created before signgate
// started (or forgotten since), worked out in full from the runtime's
// record of what it was created from (containers.Runtime.Ran), never from
// its image name resolved again: a tag moved since it started must not
// make it untrusted. ctx bounds the verifications it waits for. ok is
// false for a container not known.
func (p *Plugin) Judge(ctx context.Context, id string) (j Judged, ok bool) {
	e, ok := p.running.get(id)
	if !ok {
		return Judged{}, false
	}
	j.RunningContainer = describeRunning(e)
	base := Decision{Pod: j.Pod, Namespace: j.Namespace, Container: j.Name}
	start := time.Now()
	if e.ctr == nil {
		// As RunPodSandbox decided it: the sandbox's own container, bound
		// to its root filesystem.
		img := p.Runtime.Sandbox(ctx, e.pod)
		j.Decision = base
		now := p.lookAgain(ctx, e.pod)
		v, _ := p.decideImage(withCredentials(ctx, rejudging(now, e.creds)), img, j.Namespace)
		j.Decision.Verdict = orAdmitted(v, now, e.creds, func(pc registry.PodCredentials) *verify.Verdict {
			w, _ := p.decideImage(withCredentials(ctx, pc), img, j.Namespace)
			return w
		})
		j.Decision.Ref, j.Decision.Took = img.Ref, time.Since(start)
		return j, true
	}
	if e.refused != nil {
		j.Decision, j.RefusedStart = p.keptRefusal(ctx, id, *e.refused), true
		return j, true
	}
	reqs, known := p.created.get(id)
	if !known {
		ds, rs := p.decideRuns(ctx, e.pod, e.ctr, p.Runtime.Ran(ctx, e.pod, e.ctr), start)
		if last := ds[len(ds)-1]; !last.Verdict.Allowed {
			j.Decision = last
			return j, true
		}
		p.created.add(id, rs)
		reqs = rs
	}
	var (
		own *verify.Verdict
		now = p.lookAgain(ctx, e.pod)
	)
	for i, r := range reqs {
		req := r.Request
		req.Credentials = rejudging(now, r.Credentials)
		v := orAdmitted(p.Decider.Decide(ctx, req), now, r.Credentials, func(pc registry.PodCredentials) *verify.Verdict {
			req.Credentials = pc
			return p.Decider.Decide(ctx, req)
		})
		if i == 0 {
			own = v
		}
		if !v.Allowed {
			j.Decision = base
			j.Decision.Verdict, j.Decision.Ref, j.Decision.Took = v, r.ref, time.Since(start)
			return j, true
		}
	}
	j.Decision = base
	j.Decision.Verdict, j.Decision.Ref, j.Decision.Took = own, reqs[0].ref, time.Since(start)
	return j, true
}

// Listed: the runtime's task list lists the container running, which is
// now the word on whether it runs (RunningContainer.StartedRefused).
func (p *Plugin) Listed(id string) {
	p.startRefused.CompareAndDelete(id, true)
}
