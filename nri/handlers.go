package nri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"

	"github.com/signgate/signgate/containers"
)

// Configure subscribes to the events signgate decides on.
//
// RunPodSandbox verifies the pod sandbox image, which CreateContainer never
// sees.
//
// CreateContainer is where NRI counts a plugin "present" for the default
// validator's required_plugins, and where signgate refuses an untrusted image
// early with a clear message.
//
// ValidateContainerAdjustment closes a hole: NRI (v0.11) lists a plugin as
// present before calling it, and a plugin whose CreateContainer call fails
// fatally (its connection closed as signgate died, or the call timed out) is
// dropped with the container created anyway. A validator that fails or times
// out instead fails the creation. The verdict is cached by then, so the
// second look costs microseconds.
//
// StartContainer looks again, from the verdict cache, so a container created
// before a key was revoked does not start after it; its error fails the
// start. RemoveContainer forgets what a container ran.
//
// A runtime whose NRI predates the validator (containerd 1.7 to 2.1, NRI
// v0.8) refuses a plugin that subscribes to an event it does not know, so
// ValidateContainerAdjustment is asked for only where the runtime has it.
func (p *Plugin) Configure(_ context.Context, _, runtime, version string) (api.EventMask, error) {
	if err := p.checkRuntime(runtime, version); err != nil {
		return 0, err
	}
	nriVersion := api.UnknownVersion
	if p.runtimeNRI != nil {
		nriVersion = p.runtimeNRI()
	}
	events, validates := eventsFor(nriVersion, runtime, version)
	events, validates = p.fallback.events(p.log(), runtime, version, nriVersion, events, validates)
	p.log().Info("NRI runtime", "runtime", runtime, "version", version, "nri_version", nriVersion, "validator", validates)
	if !validates {
		p.log().Warn("this runtime's NRI has no validator: containers are refused while signgate runs, but created when it is absent or too slow (fails open); containerd 2.2 or newer fails closed",
			"runtime", runtime, "version", version, "nri_version", nriVersion)
	}
	return events, nil
}

var (
	_ stub.ConfigureInterface                   = (*Plugin)(nil)
	_ stub.RunPodInterface                      = (*Plugin)(nil)
	_ stub.CreateContainerInterface             = (*Plugin)(nil)
	_ stub.ValidateContainerAdjustmentInterface = (*Plugin)(nil)
	_ stub.StartContainerInterface              = (*Plugin)(nil)
	_ stub.PostStartContainerInterface          = (*Plugin)(nil)
	_ stub.RemoveContainerInterface             = (*Plugin)(nil)
)

// ValidateContainerAdjustment refuses the container unless its image, and
// every image it mounts, the mounts other plugins added included
// (adjusted.go), is trusted. A container CreateContainer just
// admitted passes at once (CreateContainer recorded it); any other
// (CreateContainer timed out, or never reached signgate) is decided and
// recorded here, so the decision log, which is the record of what
// verified each container, has every container created.
func (p *Plugin) ValidateContainerAdjustment(in context.Context, req *api.ValidateContainerAdjustmentRequest) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	pod := req.GetPod()
	ctr := adjusted(req.GetContainer(), req.GetAdjust())
	if err := p.abandoned(in, "ValidateContainerAdjustment", ctr.GetId()); err != nil {
		return err
	}
	if err := p.impostor(req.GetPlugins()); err != nil {
		return err
	}
	// Before the admission: CreateContainer never saw the hooks (hooks.go),
	// the namespaces (namespaces.go), the mounts' symlinks (addedmounts.go)
	// nor the devices (addeddevices.go) other plugins added.
	err := p.addedHooks(ctr.GetId(), req.GetAdjust(), req.GetOwners())
	if err == nil {
		err = addedNamespaces(req.GetContainer(), req.GetAdjust(), req.GetOwners())
	}
	if err == nil {
		err = p.addedMounts(ctr.GetId(), req.GetAdjust(), req.GetOwners())
	}
	if err == nil {
		err = addedDevices(ctr.GetId(), req.GetAdjust(), req.GetOwners(), hostCharClasses(req.GetAdjust()))
	}
	if err != nil {
		ref := ctr.GetAnnotations()[containers.ImageNameAnnotation]
		if ref == "" {
			ref = ctr.GetName()
		}
		d := Decision{Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName(), ContainerID: ctr.GetId(), Ref: ref}
		d.Verdict = doubted(&containers.Doubt{Image: ref, Reason: err.Error()})
		p.record(d)
		return errors.New(denialMessage(d))
	}
	conn := p.conn.Load()
	ctx, cancel := context.WithTimeout(in, p.deadline())
	defer cancel()
	if p.admitted.take(ctr.GetId(), admissionKey(pod, ctr), conn) {
		return nil // decided moments ago in CreateContainer, in this same request
	}
	ds, reqs := p.decideContainer(ctx, pod, ctr)
	if err := p.abandoned(in, "ValidateContainerAdjustment", ctr.GetId()); err != nil {
		return err
	}
	if last := ds[len(ds)-1]; !last.Verdict.Allowed {
		p.record(last)
		return errors.New(denialMessage(last))
	}
	for _, d := range ds {
		p.record(d)
	}
	// StartContainer rechecks these, the mounts other plugins added too.
	p.created.add(ctr.GetId(), reqs)
	return nil
}

// abandoned reports a request containerd no longer waits for: its own
// deadline passed (signgate was stopped, or the host stalled), so the
// container was already refused or created without this answer. It is
// logged as such, not recorded as a decision whose reason would mislead.
func (p *Plugin) abandoned(in context.Context, what, id string) error {
	if in.Err() == nil {
		return nil
	}
	p.log().Info("request abandoned by containerd before signgate answered", "request", what, "id", id, "err", in.Err())
	return fmt.Errorf("signgate: %s for %s arrived after containerd stopped waiting (%v)", what, id, in.Err())
}

// RunPodSandbox verifies the pod sandbox ("pause") image, which never
// passes through CreateContainer. containerd has created and started the
// sandbox's container by then; an error here fails RunPodSandbox, and CRI
// tears the sandbox down, so no container of the pod is ever created in it.
func (p *Plugin) RunPodSandbox(ctx context.Context, pod *api.PodSandbox) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	ctx, cancel := context.WithTimeout(ctx, p.deadline())
	defer cancel()
	start := time.Now()
	d := Decision{Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: sandboxName}
	img := p.Runtime.Sandbox(ctx, pod)
	d.Ref = img.Ref
	ctx = p.withPodCredentials(ctx, pod)
	d.Verdict, _ = p.decideImage(ctx, img, d.Namespace)
	d.Took = time.Since(start)
	p.record(d)
	if !d.Verdict.Allowed {
		if p.SandboxRefused != nil {
			p.SandboxRefused(pod.GetId())
		}
		return errors.New("pod sandbox: " + denialMessage(d))
	}
	p.running.addSandbox(pod, podCredentialsOf(ctx))
	return nil
}

// sandboxName stands for a pod's sandbox where a container's name goes.
const sandboxName = "(sandbox)"

// StopPodSandbox: the sandbox no longer runs.
func (p *Plugin) StopPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.running.remove(pod.GetId())
	return nil
}

// RemovePodSandbox forgets the sandbox.
func (p *Plugin) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.running.remove(pod.GetId())
	return nil
}

// CreateContainer admits or refuses the container.
func (p *Plugin) CreateContainer(in context.Context, pod *api.PodSandbox, ctr *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	if err := p.abandoned(in, "CreateContainer", ctr.GetId()); err != nil {
		return nil, nil, err
	}
	conn := p.conn.Load()
	ctx, cancel := context.WithTimeout(in, p.deadline())
	defer cancel()

	ds, reqs := p.decideContainer(ctx, pod, ctr)
	if err := p.abandoned(in, "CreateContainer", ctr.GetId()); err != nil {
		return nil, nil, err
	}
	for _, d := range ds {
		p.record(d)
	}
	if last := ds[len(ds)-1]; !last.Verdict.Allowed {
		return nil, nil, errors.New(denialMessage(last))
	}
	p.admitted.add(ctr.GetId(), admissionKey(pod, ctr), conn)
	p.created.add(ctr.GetId(), reqs)
	if !p.Annotate {
		return nil, nil, nil
	}
	return annotations(ds[0].Verdict), nil, nil
}

// StartContainer refuses to start a container whose images are no longer
// trusted (a key revoked, a policy tightened since it was created), or
// whose record in containerd shows it was created from another image's
// config than the one decided. The images were resolved and bound at
// creation, so this asks the engine, whose cache answers in microseconds,
// and containerd's record of the container, which before containerd 2.4
// does not exist yet at CreateContainer; a container created before
// signgate started is decided in full.
func (p *Plugin) StartContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	ctx, cancel := context.WithTimeout(ctx, p.deadline())
	defer cancel()
	base := Decision{Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName(), ContainerID: ctr.GetId()}
	reqs, ok := p.created.get(ctr.GetId())
	if !ok {
		var ds []Decision
		ds, reqs = p.decideContainer(ctx, pod, ctr)
		if last := ds[len(ds)-1]; !last.Verdict.Allowed {
			p.record(last)
			return p.refuseStart(pod, ctr, last, false)
		}
	}
	start := time.Now()
	if doubt := p.Runtime.AsCreated(ctx, ctr, reqs[0].Image); doubt != nil {
		d := base
		d.Verdict, d.Ref, d.Took = doubted(doubt), reqs[0].ref, time.Since(start)
		p.record(d)
		return p.refuseStart(pod, ctr, d, true)
	}
	for _, r := range reqs {
		start := time.Now()
		v := p.Decider.Decide(ctx, r.Request)
		if v.Allowed {
			continue
		}
		d := base
		d.Verdict, d.Ref, d.Took = v, r.ref, time.Since(start)
		p.record(d)
		return p.refuseStart(pod, ctr, d, false)
	}
	p.running.add(pod, ctr)
	return nil
}

// refuseStart refuses the start, and still lists the container as running:
// CRI-O starts a container whatever its NRI plugins answer StartContainer
// (containerd honours the refusal), so it must be judged again like any
// running container, stopped where the policy says so, and shown by ps.
// It is judged once CRI-O says it started (PostStartContainer: before,
// CRI-O's CRI does not list it running). Where the runtime honoured the
// refusal, the task list (RunningTasks) leaves it out of the judgements,
// and without a task list, that no post-start came (RefusedOnly). A
// doubt about which image it runs is kept as its verdict (keep): judging
// it again re-checks the image verified at creation, not the runtime's
// record that contradicted it.
func (p *Plugin) refuseStart(pod *api.PodSandbox, ctr *api.Container, d Decision, keep bool) error {
	var refused *Decision
	if keep {
		refused = &d
	}
	p.running.addRefused(pod, ctr, refused)
	p.startRefused.Store(ctr.GetId(), false) // true once it runs all the same
	return errors.New("at start: " + denialMessage(d))
}

// PostStartContainer: a container whose start was refused runs all the
// same (CRI-O); it is judged again at once (StartRefused), though CRI-O's
// CRI does not list it running yet (RunningContainer.StartedRefused).
// Subscribed on CRI-O only (eventsFor).
func (p *Plugin) PostStartContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) error {
	if p.startRefused.CompareAndSwap(ctr.GetId(), false, true) && p.StartRefused != nil {
		p.StartRefused(ctr.GetId())
	}
	return nil
}

// RemoveContainer forgets the container, and that it ran.
func (p *Plugin) RemoveContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) error {
	p.created.remove(ctr.GetId())
	p.running.remove(ctr.GetId())
	p.startRefused.Delete(ctr.GetId())
	return nil
}
