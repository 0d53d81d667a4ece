package nri

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/verify"
)

// What a container actually runs, worked out and decided. Whatever yields a
// verdict is named decide...: decideContainer (the container and all it
// mounts) calls decideRootFS (its own image), decideRestore (restore.go)
// and decideMount (volumes.go, through decideVolume); decideRef decides a
// reference (the pod sandbox's), decideBound the names once bound to the
// layers that run, decideAsCreated containerd's record at start.

// decideContainer decides the container's image, the checkpoint it is
// restored from if any, and each image it mounts as a CRI image volume,
// stopping at the first refusal. It returns the decisions (the last one is
// the outcome) and, when all are allowed, the requests they answered.
func (p *Plugin) decideContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) ([]Decision, []checked) {
	start := time.Now()
	ref, rt, err := p.imageOf(ctx, ctr)
	d := Decision{Ref: ref, Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName(), RuntimeImage: rt.GetDigest() != ""}
	var req *verify.Request
	if err != nil {
		d.Verdict = verify.Deny(ref, "", verify.CauseImageUnknown, "cannot determine the image the container runs: "+err.Error())
	} else {
		d.Verdict, req, d.FromMemory = p.decideRootFS(ctx, ctr.GetId(), d.Ref, rt, d.Namespace)
	}
	d.Took = time.Since(start)
	ds := []Decision{d}
	if !d.Verdict.Allowed {
		return ds, nil
	}
	reqs := []checked{{Request: *req, ref: d.Ref}}
	if rd, rreq, restored := p.decideRestore(ctx, d, ctr); restored {
		ds = append(ds, rd)
		if !rd.Verdict.Allowed {
			return ds, nil
		}
		reqs = append(reqs, *rreq)
	}
	for _, m := range ctr.GetMounts() {
		vd, vreq, decided := p.decideMount(ctx, d, m)
		if !decided {
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

// decideRootFS resolves what the container runs and decides it. rt is the
// runtime's own record of the image (containerd 2.4+ fills it; nil before):
// the digest it names must be the one the image store resolves ref to, and
// the layers bound below must be that digest's. fromMemory says containerd
// was not asked: both lookups were answered from its events.
func (p *Plugin) decideRootFS(ctx context.Context, containerID, ref string, rt *api.Image, namespace string) (v *verify.Verdict, req *verify.Request, fromMemory bool) {
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
	v, req = p.decideBound(ctx, imgs, chain, digest.Digest(rt.GetConfigDigest()), chainErr, namespace)
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

// decideRef resolves ref and decides it, bound to the layer chain that
// runs.
func (p *Plugin) decideRef(ctx context.Context, ref string, chain digest.Digest, chainErr error, namespace string) *verify.Verdict {
	imgs, err := p.Resolver.Resolve(ctx, ref)
	if err != nil {
		return verify.Deny(ref, "", verify.CauseImageUnknown, "cannot determine the digest that will run: "+err.Error())
	}
	v, _ := p.decideBound(ctx, imgs, chain, "", chainErr, namespace)
	return v
}

// decideBound decides what runs once the layer chain (and, when config is not
// empty, the image config) is shown to be the image's own: the name is the
// CRI client's word; the root filesystem and the config are not. One
// content may be known under several names (an image ID, a digest pulled
// under two repositories): each is tried, in sorted order, and the first
// allowed wins, so the verdict never depends on which was pulled last.
func (p *Plugin) decideBound(ctx context.Context, imgs []name.Digest, chain, config digest.Digest, chainErr error, namespace string) (*verify.Verdict, *verify.Request) {
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

// decideAsCreated checks containerd's record of the container against the
// image decided for its root filesystem: the config it was created with
// must be the config of that image's manifest whose layers it runs. It
// returns the refusal, or nil.
func (p *Plugin) decideAsCreated(ctx context.Context, containerID string, root checked) *verify.Verdict {
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
