package nri

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/verify"
)

// containerd's CRI (2.2 and 2.3; 2.4 removed it) restores a checkpoint when
// CreateContainer names a checkpoint archive on the node or an image
// carrying org.criu.checkpoint.container.name. It creates the container on
// the base image named inside the checkpoint, the only image NRI is told
// about, then unpacks the checkpoint's rootfs-diff.tar over the root
// filesystem and has CRIU restore process memory; StartContainer is not
// called. CRImportCheckpoint marks such a container with these
// annotations, after merging the checkpoint's own, so they cannot be
// forged away; checkpointImage is the CRI client's user_specified_image,
// which may be empty.
const (
	RestoredAnnotation        = "restored"
	CheckpointImageAnnotation = "checkpointImage"
)

// decideRestore decides a container restored from a checkpoint: refused,
// unless daemon.allow_checkpoint_restore is set and the checkpoint image,
// named by digest, is itself allowed under the policy that governs its
// name. restored is false for any other container.
func (p *Plugin) decideRestore(ctx context.Context, base Decision, ctr *api.Container) (d Decision, req *checked, restored bool) {
	ann := ctr.GetAnnotations()
	flag, restored := ann[RestoredAnnotation]
	if !restored {
		return Decision{}, nil, false
	}
	start := time.Now()
	ckpt := ann[CheckpointImageAnnotation]
	d = base
	d.RuntimeImage, d.FromMemory = false, false
	d.Ref = ckpt
	if d.Ref == "" {
		d.Ref = "an unnamed checkpoint"
	}
	deny := func(why string) (Decision, *checked, bool) {
		d.Verdict = verify.Deny(d.Ref, "", verify.CauseRootFSMismatch,
			fmt.Sprintf("the container is restored from a checkpoint (annotation %s=%q, %s=%q) over the image %s: its files and process memory come from the checkpoint, not from the image verified; %s",
				RestoredAnnotation, flag, CheckpointImageAnnotation, ckpt, base.Ref, why))
		d.Took = time.Since(start)
		return d, nil, true
	}
	if !p.AllowCheckpointRestore {
		return deny("checkpoint restores are refused (daemon.allow_checkpoint_restore = false)")
	}
	if ckpt == "" || strings.HasPrefix(ckpt, "/") || !strings.Contains(ckpt, "@") {
		// An archive on the node carries no signature; a tag may have
		// moved since containerd read it.
		return deny("a restore is allowed only from a checkpoint image named by digest (name@sha256:...), verified under its policy")
	}
	imgs, err := p.Resolver.Resolve(ctx, ckpt)
	if err != nil {
		return deny("cannot determine the checkpoint image: " + err.Error())
	}
	var denied *verify.Verdict
	for _, img := range imgs {
		r := verify.Request{Image: img, Namespace: base.Namespace}
		v := p.Decider.Decide(ctx, r)
		if v.Allowed {
			d.Verdict, d.Took = v, time.Since(start)
			return d, &checked{Request: r, ref: d.Ref}, true
		}
		if denied == nil {
			denied = v
		}
	}
	if denied == nil {
		return deny("containerd knows the checkpoint image by no name")
	}
	out := *denied
	out.Reason = "the checkpoint the container is restored from: " + out.Reason
	d.Verdict, d.Took = &out, time.Since(start)
	return d, nil, true
}
