package nri

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/verify"
)

// decideRestore decides a container restored from a checkpoint: refused,
// unless daemon.allow_checkpoint_restore is set and the checkpoint image,
// named by digest, is itself allowed under the policy that governs its
// name.
func (p *Plugin) decideRestore(ctx context.Context, base Decision, rs containers.Restore) (Decision, *checked) {
	start := time.Now()
	d := base
	d.RuntimeImage, d.FromMemory = false, false
	d.Ref = rs.Ref
	if d.Ref == "" {
		d.Ref = "an unnamed checkpoint"
	}
	deny := func(why string) (Decision, *checked) {
		d.Verdict = verify.Deny(d.Ref, "", verify.CauseRootFSMismatch,
			fmt.Sprintf("the container is restored from a checkpoint (%s) over the image %s: its files and process memory come from the checkpoint, not from the image verified; %s",
				rs.Mark, base.Ref, why))
		d.Took = time.Since(start)
		return d, nil
	}
	if !p.AllowCheckpointRestore {
		return deny("checkpoint restores are refused (daemon.allow_checkpoint_restore = false)")
	}
	if rs.Ref == "" || strings.HasPrefix(rs.Ref, "/") || !strings.Contains(rs.Ref, "@") {
		// An archive on the node carries no signature; a tag may have
		// moved since the runtime read it.
		return deny("a restore is allowed only from a checkpoint image named by digest (name@sha256:...), verified under its policy")
	}
	if rs.Doubt != nil {
		return deny(rs.Doubt.Reason)
	}
	var denied *verify.Verdict
	for _, img := range rs.Names {
		r := verify.Request{Image: img, Namespace: base.Namespace, Credentials: podCredentialsOf(ctx)}
		v := p.Decider.Decide(ctx, r)
		if v.Allowed {
			d.Verdict, d.Took = v, time.Since(start)
			return d, &checked{Request: r, ref: d.Ref}
		}
		if denied == nil {
			denied = v
		}
	}
	if denied == nil {
		return deny("the runtime knows the checkpoint image by no name")
	}
	out := *denied
	out.Reason = "the checkpoint the container is restored from: " + out.Reason
	d.Verdict, d.Took = &out, time.Since(start)
	return d, nil
}
