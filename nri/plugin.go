// Package nri is signgate's containerd NRI plugin: on CreateContainer it
// resolves the image the container will run to its digest, asks the
// verification engine, and fails the creation when the image is not trusted.
package nri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/semver"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/verify"
)

// ImageNameAnnotation is where containerd's CRI puts the image reference.
const ImageNameAnnotation = "io.kubernetes.cri.image-name"

// Resolver finds the digest an image reference points to on this node, and
// what a container's root filesystem is built from.
type Resolver interface {
	// Resolve names the content ref points to: one digest for a name, and
	// every name containerd knows an image ID by, sorted.
	Resolve(ctx context.Context, ref string) ([]name.Digest, error)
	// RootFS is the layer chain the container's root filesystem is built on.
	RootFS(ctx context.Context, containerID string) (digest.Digest, error)
	// BuiltFrom checks that img is what runs: a manifest under it has the
	// layer chain and, when config is not empty, that image config.
	BuiltFrom(ctx context.Context, chain, config digest.Digest, img name.Digest) error
	// CreatedFrom is containerd's record of what a created container was
	// built from: the image config and the layer chain. The record exists
	// by StartContainer (and by CreateContainer from containerd 2.4).
	CreatedFrom(ctx context.Context, containerID string) (imagestore.Created, error)
	// VolumeImages names the image a CRI image volume was made from, under
	// every repository containerd knows it by, sorted.
	VolumeImages(ctx context.Context, v imagestore.ImageVolume) ([]name.Digest, error)
	// VolumeLayers is the layer chain actually mounted as the image volume.
	VolumeLayers(ctx context.Context, v imagestore.ImageVolume) (digest.Digest, error)
	// Known answers, from memory only, what a container being created
	// runs: what Resolve(ref) would return, and RootFS(containerID).
	// Either is empty when not known; the names only ever with the chain,
	// and only when as current as containerd's answer would be.
	Known(containerID, ref string) ([]name.Digest, digest.Digest)
	// Sandbox is the image a pod sandbox's own container was created from,
	// and the layer chain its root filesystem is built on.
	Sandbox(ctx context.Context, sandboxID string) (string, digest.Digest, error)
}

// Decider is the verification engine.
type Decider interface {
	Decide(ctx context.Context, req verify.Request) *verify.Verdict
}

// Decision is one CreateContainer's outcome, for the log.
type Decision struct {
	Verdict   *verify.Verdict
	Ref       string // the image reference as the container names it
	Pod       string
	Namespace string
	Container string
	Took      time.Duration
	// RuntimeImage: containerd reported the image itself (NRI's
	// Container.Image, 2.4+) and the decision checked it.
	RuntimeImage bool
	// FromMemory: containerd was not asked what runs; its events had
	// told signgate already (see imagestore.Store.Known).
	FromMemory bool
}

// Recorder receives every decision (journald, metrics, tests).
type Recorder interface {
	Record(Decision)
}

// Plugin implements the NRI handlers signgate subscribes to.
type Plugin struct {
	Resolver Resolver
	Decider  Decider
	Recorder Recorder
	// Deadline bounds each answer (decision_deadline). It must be shorter
	// than containerd's NRI request timeout, or containerd drops the plugin
	// and creates the container: once connected, the plugin learns that
	// timeout and answers within three quarters of it if Deadline is longer.
	Deadline time.Duration
	// Annotate adds the signgate.dev/ annotations to allowed containers.
	Annotate bool
	// AllowCheckpointRestore admits a container restored from a checkpoint
	// image that is itself allowed (see judgeRestore); otherwise refused.
	AllowCheckpointRestore bool
	ceiling                atomic.Int64   // from the NRI request timeout, once connected
	admitted               admittedSet    // containers CreateContainer allowed, for the validator
	conn                   atomic.Uint64  // which NRI connection is current; admissions are bound to it
	created                createdSet     // what each created container runs, re-checked at start
	inflight               sync.WaitGroup // requests being answered, for a clean stop
	// runtimeNRI is the runtime's NRI version, once connected.
	runtimeNRI func() string
}

// deadline is how long an answer may take: Deadline, capped by what the
// runtime's NRI request timeout allows.
func (p *Plugin) deadline() time.Duration {
	if c := time.Duration(p.ceiling.Load()); c > 0 && c < p.Deadline {
		return c
	}
	return p.Deadline
}

// setRequestTimeout caps answers at three quarters of the runtime's NRI
// request timeout, leaving the rest for the round trip and containerd.
func (p *Plugin) setRequestTimeout(t time.Duration) {
	if t <= 0 {
		return
	}
	c := t * 3 / 4
	p.ceiling.Store(int64(c))
	p.admitted.setRequestTimeout(t)
	if p.Deadline > c {
		slog.Warn("decision_deadline is too close to containerd's NRI request timeout; answering sooner",
			"decision_deadline", p.Deadline, "nri_request_timeout", t, "answering_within", c)
	}
}

// createdSet remembers what each created container runs and mounts, until
// it is removed, for the check at start. It is bounded: a container
// forgotten is judged in full at start.
type createdSet struct {
	mu sync.Mutex
	m  map[string][]checked
}

const maxCreated = 16384

func (c *createdSet) add(id string, reqs []checked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCreated {
		c.m = map[string][]checked{}
	}
	c.m[id] = reqs
}

func (c *createdSet) get(id string) ([]checked, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

func (c *createdSet) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// Configure subscribes to the events signgate judges.
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
	nriVersion := api.UnknownVersion
	if p.runtimeNRI != nil {
		nriVersion = p.runtimeNRI()
	}
	events, validates := Events(nriVersion, runtime, version)
	slog.Info("NRI runtime", "runtime", runtime, "version", version, "nri_version", nriVersion, "validator", validates)
	if !validates {
		slog.Warn("this runtime's NRI has no validator: containers are refused while signgate runs, but created when it is absent or too slow (fails open); containerd 2.2 or newer fails closed",
			"runtime", runtime, "version", version, "nri_version", nriVersion)
	}
	return events, nil
}

// validatorSince is the NRI release that added ValidateContainerAdjustment.
const validatorSince = "v0.10.0"

// containerdValidatorSince is the containerd release that shipped it.
const containerdValidatorSince = "v2.2.0"

// Events is what signgate subscribes to on a runtime, and whether that
// includes the validator. A containerd that says it is 2.2 or newer, its
// pre-releases included, has it: the stub infers a pre-release's NRI from
// the release before it (v2.2.0-rc.0 as v2.1.6's v0.8.0), and a validator
// missed there fails open, since NRI counts a plugin that timed out within
// the request as present. Otherwise the runtime's NRI version decides
// (runtimes from NRI v0.12 report it; the stub infers it for releases it
// knows); failing that, containerd's own version does. A runtime known by
// neither is taken to have the validator: one too new to be known is
// likelier than one too old, and a wrong guess shows as a connection
// refused at once.
func Events(nriVersion, runtime, runtimeVersion string) (api.EventMask, bool) {
	names := []string{"RunPodSandbox", "CreateContainer", "StartContainer", "RemoveContainer"}
	validates := true
	ctd, ctdKnown := release(runtimeVersion)
	ctdKnown = ctdKnown && runtime == "containerd"
	switch v, ok := release(nriVersion); {
	case ctdKnown && semver.Compare(semver.MajorMinor(ctd), semver.MajorMinor(containerdValidatorSince)) >= 0:
	case ok:
		validates = semver.Compare(v, validatorSince) >= 0
	case ctdKnown:
		validates = false
	}
	if validates {
		names = append(names, "ValidateContainerAdjustment")
	}
	return api.MustParseEventMask(names...), validates
}

// release is version as a semver release ("v2.1.9" from "2.1.9+unknown"),
// or false when it names none: NRI spells "unknown" and "development build"
// as 0.0.0 pre-releases.
func release(version string) (string, bool) {
	v := version
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) || semver.MajorMinor(v) == "v0.0" {
		return "", false
	}
	return semver.Canonical(v), true
}

var (
	_ stub.ConfigureInterface                   = (*Plugin)(nil)
	_ stub.RunPodInterface                      = (*Plugin)(nil)
	_ stub.CreateContainerInterface             = (*Plugin)(nil)
	_ stub.ValidateContainerAdjustmentInterface = (*Plugin)(nil)
	_ stub.StartContainerInterface              = (*Plugin)(nil)
	_ stub.RemoveContainerInterface             = (*Plugin)(nil)
)

// ValidateContainerAdjustment refuses the container unless its image, and
// every image it mounts, is trusted. A container CreateContainer just
// admitted passes at once; any other (CreateContainer timed out, or never
// reached signgate) is decided here. Only refusals are recorded:
// CreateContainer records its decisions.
func (p *Plugin) ValidateContainerAdjustment(in context.Context, req *api.ValidateContainerAdjustmentRequest) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	ctr, pod := req.GetContainer(), req.GetPod()
	if err := abandoned(in, "ValidateContainerAdjustment", ctr.GetId()); err != nil {
		return err
	}
	conn := p.conn.Load()
	ctx, cancel := context.WithTimeout(in, p.deadline())
	defer cancel()
	if p.admitted.take(ctr.GetId(), admissionKey(pod, ctr), conn) {
		return nil // decided moments ago in CreateContainer, in this same request
	}
	ds, _ := p.judge(ctx, pod, ctr)
	if last := ds[len(ds)-1]; !last.Verdict.Allowed {
		if err := abandoned(in, "ValidateContainerAdjustment", ctr.GetId()); err != nil {
			return err
		}
		p.record(last)
		return errors.New(DenialMessage(last))
	}
	return nil
}

// abandoned reports a request containerd no longer waits for: its own
// deadline passed (signgate was stopped, or the host stalled), so the
// container was already refused or created without this answer. It is
// logged as such, not recorded as a decision whose reason would mislead.
func abandoned(in context.Context, what, id string) error {
	if in.Err() == nil {
		return nil
	}
	slog.Info("request abandoned by containerd before signgate answered", "request", what, "id", id, "err", in.Err())
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
	d := Decision{Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: "(sandbox)"}
	ref, chain, err := p.Resolver.Sandbox(ctx, pod.GetId())
	d.Ref = ref
	switch {
	case err != nil:
		d.Verdict = verify.Deny(ref, "", verify.CauseImageUnknown, "cannot determine the pod sandbox image: "+err.Error())
	default:
		d.Verdict = p.decideBound(ctx, ref, chain, nil, d.Namespace)
	}
	d.Took = time.Since(start)
	p.record(d)
	if !d.Verdict.Allowed {
		return errors.New("pod sandbox: " + DenialMessage(d))
	}
	return nil
}

// CreateContainer admits or refuses the container.
func (p *Plugin) CreateContainer(in context.Context, pod *api.PodSandbox, ctr *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	if err := abandoned(in, "CreateContainer", ctr.GetId()); err != nil {
		return nil, nil, err
	}
	conn := p.conn.Load()
	ctx, cancel := context.WithTimeout(in, p.deadline())
	defer cancel()

	ds, reqs := p.judge(ctx, pod, ctr)
	if err := abandoned(in, "CreateContainer", ctr.GetId()); err != nil {
		return nil, nil, err
	}
	for _, d := range ds {
		p.record(d)
	}
	if last := ds[len(ds)-1]; !last.Verdict.Allowed {
		return nil, nil, errors.New(DenialMessage(last))
	}
	p.admitted.add(ctr.GetId(), admissionKey(pod, ctr), conn)
	p.created.add(ctr.GetId(), reqs)
	if !p.Annotate {
		return nil, nil, nil
	}
	return annotations(ds[0].Verdict), nil, nil
}

// The annotations an allowed container carries in its runtime spec (crictl
// inspect, audit tools reading config.json): which policy admitted which
// digest, and what verified it. Nothing else is adjusted.
const (
	AnnotationPolicy     = "signgate.dev/policy"
	AnnotationDigest     = "signgate.dev/digest"
	AnnotationDecision   = "signgate.dev/decision"    // verified, audit (allowed unverified) or allowed_by_policy
	AnnotationVerifiedBy = "signgate.dev/verified-by" // "cosign: release; attestation provenance: ci"
)

func annotations(v *verify.Verdict) *api.ContainerAdjustment {
	adj := &api.ContainerAdjustment{}
	decision := string(v.Cause)
	if !v.Verified && v.Mode == verify.Audit {
		decision = "audit"
	}
	adj.AddAnnotation(AnnotationPolicy, v.Policy)
	adj.AddAnnotation(AnnotationDigest, v.Digest)
	adj.AddAnnotation(AnnotationDecision, decision)
	if by := v.VerifiedBy(); len(by) > 0 {
		adj.AddAnnotation(AnnotationVerifiedBy, strings.Join(by, "; "))
	}
	return adj
}

// StartContainer refuses to start a container whose images are no longer
// trusted (a key revoked, a policy tightened since it was created), or
// whose record in containerd shows it was created from another image's
// config than the one decided. The images were resolved and bound at
// creation, so this asks the engine, whose cache answers in microseconds,
// and containerd's record of the container, which before containerd 2.4
// does not exist yet at CreateContainer; a container created before
// signgate started is judged in full.
func (p *Plugin) StartContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	ctx, cancel := context.WithTimeout(ctx, p.deadline())
	defer cancel()
	base := Decision{Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName()}
	reqs, ok := p.created.get(ctr.GetId())
	if !ok {
		var ds []Decision
		ds, reqs = p.judge(ctx, pod, ctr)
		if last := ds[len(ds)-1]; !last.Verdict.Allowed {
			p.record(last)
			return errors.New("at start: " + DenialMessage(last))
		}
	}
	start := time.Now()
	if v := p.asCreated(ctx, ctr.GetId(), reqs[0]); v != nil {
		d := base
		d.Verdict, d.Ref, d.Took = v, reqs[0].ref, time.Since(start)
		p.record(d)
		return errors.New("at start: " + DenialMessage(d))
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
		return errors.New("at start: " + DenialMessage(d))
	}
	return nil
}

// asCreated checks containerd's record of the container against the image
// decided for its root filesystem: the config it was created with must be
// the config of that image's manifest whose layers it runs. It returns the
// refusal, or nil.
func (p *Plugin) asCreated(ctx context.Context, containerID string, root checked) *verify.Verdict {
	img := root.Image
	c, err := p.Resolver.CreatedFrom(ctx, containerID)
	if err == nil {
		err = p.Resolver.BuiltFrom(ctx, c.Chain, c.Config, img)
	} else {
		err = fmt.Errorf("cannot read what it was created from: %w", err)
	}
	if err == nil {
		return nil
	}
	return verify.Deny(verify.RepoName(img.Context()), img.DigestStr(), bindingCause(err), err.Error())
}

// bindingCause: what runs is shown not to be the image named, or it
// could not be read (denied all the same).
func bindingCause(err error) verify.Cause {
	if errors.Is(err, imagestore.ErrNotBuiltFrom) {
		return verify.CauseRootFSMismatch
	}
	return verify.CauseImageUnknown
}

// RemoveContainer forgets the container.
func (p *Plugin) RemoveContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) error {
	p.created.remove(ctr.GetId())
	return nil
}

func (p *Plugin) record(d Decision) {
	if p.Recorder != nil {
		p.Recorder.Record(d)
	}
}

// checked is one image a container runs or mounts, as decided, so that
// StartContainer can ask again without resolving it again.
type checked struct {
	verify.Request
	ref string // how the decision names it
}

// judge decides the container's image and then each image it mounts as a
// CRI image volume, stopping at the first refusal. It returns the decisions
// (the last one is the outcome) and, when all are allowed, the requests they
// answered.
func (p *Plugin) judge(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) ([]Decision, []checked) {
	start := time.Now()
	d := Decision{Ref: ctr.GetAnnotations()[ImageNameAnnotation], Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName(), RuntimeImage: ctr.GetImage().GetDigest() != ""}
	var req *verify.Request
	d.Verdict, req, d.FromMemory = p.decide(ctx, ctr.GetId(), d.Ref, ctr.GetImage(), d.Namespace)
	d.Took = time.Since(start)
	ds := []Decision{d}
	if !d.Verdict.Allowed {
		return ds, nil
	}
	reqs := []checked{{Request: *req, ref: d.Ref}}
	if rd, rreq, restored := p.judgeRestore(ctx, d, ctr); restored {
		ds = append(ds, rd)
		if !rd.Verdict.Allowed {
			return ds, nil
		}
		reqs = append(reqs, *rreq)
	}
	for _, m := range ctr.GetMounts() {
		vd, vreq, judged := p.judgeMount(ctx, d, m)
		if !judged {
			continue
		}
		ds = append(ds, vd)
		if !vd.Verdict.Allowed {
			return ds, nil
		}
		reqs = append(reqs, *vreq)
	}
	return ds, reqs
}

// decideVolume decides an image volume the way a root filesystem is
// decided: bound to the layers actually mounted, under the policy that
// governs the image.
func (p *Plugin) decideVolume(ctx context.Context, v imagestore.ImageVolume, namespace string) (string, *verify.Verdict, *verify.Request) {
	where := "the image volume at " + v.Destination
	imgs, err := p.Resolver.VolumeImages(ctx, v)
	if err != nil {
		return where, verify.Deny(where, v.Target.String(), verify.CauseImageUnknown, "cannot determine the image mounted: "+err.Error()), nil
	}
	chain, err := p.Resolver.VolumeLayers(ctx, v)
	vd, req := p.bound(ctx, imgs, chain, "", err, namespace)
	if vd.Allowed {
		return vd.Image, vd, req
	}
	out := *vd
	out.Reason = "mounted as " + where + ": " + out.Reason
	return out.Image, &out, nil
}

// decide resolves what the container runs and decides it. rt is the
// runtime's own record of the image (containerd 2.4+ fills it; nil before):
// the digest it names must be the one the image store resolves ref to, and
// the layers bound below must be that digest's. fromMemory says containerd
// was not asked: both lookups were answered from its events.
func (p *Plugin) decide(ctx context.Context, containerID, ref string, rt *api.Image, namespace string) (v *verify.Verdict, req *verify.Request, fromMemory bool) {
	if ref == "" {
		return verify.Deny("", "", verify.CauseImageUnknown, "the container carries no "+ImageNameAnnotation+" annotation, so its image cannot be determined"), nil, false
	}
	imgs, chain := p.Resolver.Known(containerID, ref)
	fromMemory = imgs != nil && chain != ""
	if fromMemory && rt.GetDigest() != "" && !names(imgs, rt.GetDigest()) {
		// The runtime disagrees with what was remembered: the store's
		// own answer decides, as if nothing had been remembered.
		imgs, fromMemory = nil, false
	}
	// What memory did not answer, containerd does: both lookups at once,
	// to keep the NRI lock short.
	var (
		chainErr error
		done     = make(chan struct{})
	)
	if chain == "" {
		go func() {
			defer close(done)
			chain, chainErr = p.Resolver.RootFS(ctx, containerID)
		}()
	} else {
		close(done)
	}
	var err error
	if imgs == nil {
		imgs, err = p.Resolver.Resolve(ctx, ref)
	}
	<-done
	if err != nil {
		return verify.Deny(ref, "", verify.CauseImageUnknown, "cannot determine the digest that will run: "+err.Error()), nil, false
	}
	if rt.GetDigest() != "" {
		if imgs, err = p.agreeWithRuntime(ctx, ref, imgs, rt, chain, chainErr); err != nil {
			return verify.Deny(ref, "", verify.CauseImageMismatch, err.Error()), nil, false
		}
	}
	// containerd 2.4 reports the config the container is created with:
	// bound to it now, as every runtime's record is at start.
	v, req = p.bound(ctx, imgs, chain, digest.Digest(rt.GetConfigDigest()), chainErr, namespace)
	return v, req, fromMemory
}

// names reports whether one of imgs has digest d.
func names(imgs []name.Digest, d string) bool {
	for _, img := range imgs {
		if img.DigestStr() == d {
			return true
		}
	}
	return false
}

// agreeWithRuntime checks the store's answer against the runtime's own
// record of what the container was created from (NRI's Container.Image),
// and returns the names to decide. When the runtime's digest is one the
// store resolves ref to, those names are kept (all of them, tried in
// sorted order, so the verdict does not depend on which name containerd
// reports). When they name different manifests, that is allowed only if
// both are the layers that run (one image pushed as two manifests, say);
// otherwise the container is refused, naming both. An image ID must also
// be the runtime's config digest.
func (p *Plugin) agreeWithRuntime(ctx context.Context, ref string, imgs []name.Digest, rt *api.Image, chain digest.Digest, chainErr error) ([]name.Digest, error) {
	said := rt.GetDigest()
	if rt.GetName() != "" {
		said = rt.GetName() + " (" + rt.GetDigest() + ")"
	}
	if cfg := rt.GetConfigDigest(); cfg != "" && imagestore.IsImageID(ref) && ref != cfg {
		return nil, fmt.Errorf("the runtime reports the container's image config as %s, but it was created from image ID %s", cfg, ref)
	}
	var found []string
	var kept []name.Digest
	for _, img := range imgs {
		found = append(found, img.String())
		if img.DigestStr() == rt.GetDigest() {
			kept = append(kept, img)
		}
	}
	if len(kept) > 0 {
		return kept, nil
	}
	disagree := fmt.Errorf("the runtime reports the container's image as %s, but its image store resolves %s to %s", said, ref, strings.Join(found, ", "))
	if chainErr != nil || len(imgs) == 0 {
		return nil, disagree
	}
	repo := imgs[0].Context()
	if n, err := name.ParseReference(rt.GetName()); err == nil {
		repo = n.Context()
	}
	theirs, err := name.NewDigest(repo.Name() + "@" + rt.GetDigest())
	cfg := digest.Digest(rt.GetConfigDigest())
	if err != nil || p.Resolver.BuiltFrom(ctx, chain, cfg, theirs) != nil {
		return nil, disagree
	}
	for _, img := range imgs {
		if p.Resolver.BuiltFrom(ctx, chain, cfg, img) != nil {
			return nil, disagree
		}
	}
	return imgs, nil
}

// decideBound resolves ref and decides it, bound to the layer chain that
// runs.
func (p *Plugin) decideBound(ctx context.Context, ref string, chain digest.Digest, chainErr error, namespace string) *verify.Verdict {
	imgs, err := p.Resolver.Resolve(ctx, ref)
	if err != nil {
		return verify.Deny(ref, "", verify.CauseImageUnknown, "cannot determine the digest that will run: "+err.Error())
	}
	v, _ := p.bound(ctx, imgs, chain, "", chainErr, namespace)
	return v
}

// bound decides what runs once the layer chain (and, when config is not
// empty, the image config) is shown to be the image's own: the name is the
// CRI client's word; the root filesystem and the config are not. One
// content may be known under several names (an image ID, a digest pulled
// under two repositories): each is tried, in sorted order, and the first
// allowed wins, so the verdict never depends on which was pulled last.
func (p *Plugin) bound(ctx context.Context, imgs []name.Digest, chain, config digest.Digest, chainErr error, namespace string) (*verify.Verdict, *verify.Request) {
	var denied *verify.Verdict
	for _, img := range imgs {
		err := chainErr
		if err == nil {
			err = p.Resolver.BuiltFrom(ctx, chain, config, img)
		}
		if err != nil {
			return verify.Deny(verify.RepoName(img.Context()), img.DigestStr(), bindingCause(err), err.Error()), nil
		}
		req := verify.Request{Image: img, Namespace: namespace}
		v := p.Decider.Decide(ctx, req)
		if v.Allowed {
			return v, &req
		}
		if denied == nil {
			denied = v
		}
	}
	if len(imgs) > 1 {
		out := *denied
		out.Reason += fmt.Sprintf(" (and no other name of this content is allowed: %d names tried)", len(imgs))
		return &out, nil
	}
	return denied, nil
}

// DenialMessage is what the CRI client (crictl, the kubelet's event) shows.
func DenialMessage(d Decision) string {
	v := d.Verdict
	img := d.Ref
	if v.Digest != "" {
		img = fmt.Sprintf("%s (%s@%s)", d.Ref, v.Image, v.Digest)
	}
	return fmt.Sprintf("signgate denied image %s: %s", img, v.Reason)
}

// startTimeout bounds registration: containerd's own registration timeout
// is 5s by default.
const startTimeout = 30 * time.Second

// Run connects to the NRI socket and serves until ctx ends or the connection
// drops (containerd restarted): the caller reconnects. onStarted is called
// once containerd has registered and configured the plugin (the stub's own
// Start returns then), with the NRI request timeout it uses.
func (p *Plugin) Run(ctx context.Context, pluginName, index, socket string, onStarted func(requestTimeout time.Duration), onClose func()) error {
	// A new connection: nothing admitted on an earlier one is taken on it.
	p.connectionChanged()
	defer p.connectionChanged()
	closed := func() {
		p.connectionChanged()
		if onClose != nil {
			onClose()
		}
	}
	opts := []stub.Option{stub.WithOnClose(closed), stub.WithLogger(nriLogger{})}
	// Started by containerd as a pre-installed plugin, the name, index and
	// connection come from the environment.
	if os.Getenv(api.PluginNameEnvVar) == "" {
		opts = append(opts, stub.WithPluginName(pluginName), stub.WithPluginIdx(index))
	}
	if socket != "" {
		opts = append(opts, stub.WithSocketPath(socket))
	}
	s, err := stub.New(p, opts...)
	if err != nil {
		return fmt.Errorf("nri: %w", err)
	}
	// Known to the stub before it calls Configure: reported by the runtime,
	// or inferred from its name and version.
	p.runtimeNRI = s.RuntimeNRIVersion
	// On shutdown, answer the requests already in hand (each is bounded by
	// the deadline) before closing the connection.
	stop := context.AfterFunc(ctx, func() {
		done := make(chan struct{})
		go func() { p.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(p.deadline() + 100*time.Millisecond):
		}
		s.Stop()
	})
	defer stop()
	// The stub's Start waits for containerd to configure the plugin, and
	// never returns if the connection drops in between (it holds its lock
	// while waiting); give up on it then, and let the caller reconnect.
	startErr := make(chan error, 1)
	go func() { startErr <- s.Start(context.WithoutCancel(ctx)) }()
	select {
	case err := <-startErr:
		if err != nil {
			return fmt.Errorf("nri: %w", err)
		}
	case <-time.After(startTimeout):
		return fmt.Errorf("nri: containerd did not configure the plugin within %s", startTimeout)
	case <-ctx.Done():
		return nil
	}
	p.setRequestTimeout(s.RequestTimeout())
	if onStarted != nil {
		onStarted(s.RequestTimeout())
	}
	s.Wait()
	return nil
}

// connectionChanged marks a connection made or lost: containerd closes it
// when a request to signgate timed out or failed, and every admission made
// on it goes with it.
func (p *Plugin) connectionChanged() {
	p.conn.Add(1)
	p.admitted.forget()
}

// nriLogger sends the NRI stub's chatter to slog, at debug level for the
// routine messages so the daemon stays quiet.
type nriLogger struct{}

func (nriLogger) Debugf(_ context.Context, f string, a ...any) { slog.Debug(fmt.Sprintf(f, a...)) }
func (nriLogger) Infof(_ context.Context, f string, a ...any)  { slog.Debug(fmt.Sprintf(f, a...)) }
func (nriLogger) Warnf(_ context.Context, f string, a ...any)  { slog.Warn(fmt.Sprintf(f, a...)) }
func (nriLogger) Errorf(_ context.Context, f string, a ...any) { slog.Error(fmt.Sprintf(f, a...)) }
