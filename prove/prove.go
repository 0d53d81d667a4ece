// Package prove shows that the node enforces: it asks containerd's CRI, as
// the kubelet would, to create a container from an image nobody can have
// signed (built here, with a digest new to this run, never in a registry),
// and requires signgate's refusal. Whatever it made is removed, whatever
// the outcome.
package prove

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultImage is the probe's repository when [daemon] prove_image is not
// set: a name that cannot resolve (.invalid), so it is never pulled.
const DefaultImage = "signgate.invalid/signgate/prove"

// Options say where and how to probe.
type Options struct {
	Socket       string   // containerd's socket: CRI, content and images
	Namespace    string   // containerd namespace CRI uses (k8s.io)
	Image        string   // the probe's repository; tagged per run
	Plugin       string   // signgate's NRI plugin name, as required_plugins names it
	Snapshotters []string // where the layer may have been unpacked
	// Policy and Mode: the policy that governs Image in namespace
	// PodNamespace in the config in force ("" for none).
	Policy, Mode string
	Timeout      time.Duration
	Now          func() time.Time
	// Announce, if set, hears the probe's pod (Kubernetes namespace and
	// name, new each run) before anything is made, so that the daemon can
	// count the decisions on it as the probe's, not the node's.
	Announce func(namespace, pod string)
}

// Result is what a probe did and found.
type Result struct {
	Outcome   Outcome   `json:"outcome"`
	Proven    bool      `json:"proven"`
	Image     string    `json:"image"` // reference, tag unique to the run
	Digest    string    `json:"digest,omitempty"`
	Namespace string    `json:"namespace"` // the pod's Kubernetes namespace
	Pod       string    `json:"pod"`
	Plugin    string    `json:"plugin"`
	Policy    string    `json:"policy,omitempty"`
	Mode      string    `json:"mode,omitempty"`
	Refusal   string    `json:"refusal,omitempty"` // containerd's error, as a CRI client reads it
	Proved    string    `json:"proved"`
	Leftovers []string  `json:"leftovers,omitempty"` // what could not be removed
	At        time.Time `json:"at"`
	TookMS    int64     `json:"took_ms"`
}

// sweepAfter: what an earlier probe made and left is swept once older
// than any probe takes.
const sweepAfter = 5 * time.Minute

// Run probes once.
func Run(ctx context.Context, o Options) *Result {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	start := now()
	r := &Result{Namespace: PodNamespace, Plugin: o.Plugin, Policy: o.Policy, Mode: o.Mode, At: start}
	defer func() {
		r.Proven = r.Outcome == Proven
		r.Proved = explain(r)
		r.TookMS = now().Sub(start).Milliseconds()
	}()
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fail := func(err error) *Result {
		r.Outcome, r.Refusal = Failed, err.Error()
		return r
	}
	nonce, err := newNonce()
	if err != nil {
		return fail(err)
	}
	repo, err := name.NewRepository(o.Image, name.StrictValidation)
	if err != nil {
		return fail(fmt.Errorf("daemon.prove_image %q: %w", o.Image, err))
	}
	r.Image = repo.Tag(nonce).String()
	img, err := buildImage(nonce, start)
	if err != nil {
		return fail(err)
	}
	r.Digest = img.manifest.desc.Digest.String()
	conn, err := grpc.NewClient("unix://"+o.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fail(fmt.Errorf("containerd at %s: %w", o.Socket, err))
	}
	defer conn.Close()
	st := &store{conn: conn, namespace: o.Namespace}
	p := newPod(conn, nonce)
	r.Pod = p.cfg.Metadata.Name
	if o.Announce != nil {
		o.Announce(PodNamespace, r.Pod)
	}
	// Clean-up gets a context of its own: it runs when ctx has expired too.
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer ccancel()
		r.Leftovers = append(r.Leftovers, p.remove(cctx)...)
		r.Leftovers = append(r.Leftovers, st.remove(cctx, img, o.Snapshotters)...)
	}()
	r.Leftovers = append(r.Leftovers, sweep(ctx, p.rt, start, sweepAfter)...)
	r.Leftovers = append(r.Leftovers, st.sweep(ctx, start, sweepAfter)...)
	if err := st.importImage(ctx, img, r.Image); err != nil {
		return fail(fmt.Errorf("containerd at %s: %w", o.Socket, err))
	}
	if err := p.run(ctx); err != nil {
		r.Outcome, r.Refusal = NoSandbox, err.Error()
		return r
	}
	// containerd's CRI learns of a new image from its events: wait for it
	// to know the probe's, or it would refuse with "not found".
	if err := p.waitImage(ctx, r.Image); err != nil {
		return fail(err)
	}
	err = p.create(ctx, r.Image)
	r.Outcome = judge(err, r.Digest, o.Plugin)
	if err != nil {
		r.Refusal = err.Error()
	}
	return r
}
