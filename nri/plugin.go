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
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/verify"
)

// ImageNameAnnotation is where containerd's CRI puts the image reference.
const ImageNameAnnotation = "io.kubernetes.cri.image-name"

// Resolver finds the digest an image reference points to on this node, and
// what a container's root filesystem is built from.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (name.Digest, error)
	// RootFS is the layer chain the container's root filesystem is built on.
	RootFS(ctx context.Context, containerID string) (digest.Digest, error)
	// BuiltFrom checks that the layer chain is img's.
	BuiltFrom(ctx context.Context, chain digest.Digest, img name.Digest) error
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
	// Deadline bounds each answer; it must be shorter than containerd's NRI
	// request timeout, or containerd drops the plugin and creates the container.
	Deadline time.Duration
	admitted admittedSet    // containers CreateContainer allowed, for the validator
	inflight sync.WaitGroup // requests being answered, for a clean stop
}

// admittedSet remembers, briefly, which containers CreateContainer allowed
// and for which image reference, so ValidateContainerAdjustment for the same
// container need not resolve and decide again. An entry is used once.
type admittedSet struct {
	mu sync.Mutex
	m  map[string]admittedEntry
}

type admittedEntry struct {
	ref string
	at  time.Time
}

const admittedTTL = 30 * time.Second

func (a *admittedSet) add(id, ref string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]admittedEntry{}
	}
	now := time.Now()
	if len(a.m) > 1024 {
		for k, e := range a.m {
			if now.Sub(e.at) > admittedTTL {
				delete(a.m, k)
			}
		}
	}
	a.m[id] = admittedEntry{ref: ref, at: now}
}

func (a *admittedSet) take(id, ref string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[id]
	delete(a.m, id)
	return ok && e.ref == ref && time.Since(e.at) < admittedTTL
}

// Configure subscribes to two events.
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
func (p *Plugin) Configure(_ context.Context, _, runtime, version string) (api.EventMask, error) {
	slog.Info("NRI runtime", "runtime", runtime, "version", version)
	return api.MustParseEventMask("CreateContainer", "ValidateContainerAdjustment"), nil
}

// ValidateContainerAdjustment refuses the container unless its image is
// trusted. A container CreateContainer just admitted passes at once; any
// other (CreateContainer timed out, or never reached signgate) is decided
// here. Only refusals are recorded: CreateContainer records its decisions.
func (p *Plugin) ValidateContainerAdjustment(ctx context.Context, req *api.ValidateContainerAdjustmentRequest) error {
	p.inflight.Add(1)
	defer p.inflight.Done()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.Deadline)
	defer cancel()
	ctr, pod := req.GetContainer(), req.GetPod()
	d := Decision{Ref: ctr.GetAnnotations()[ImageNameAnnotation], Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName()}
	if p.admitted.take(ctr.GetId(), d.Ref) {
		return nil // decided moments ago in CreateContainer, for this container and image
	}
	d.Verdict = p.decide(ctx, ctr.GetId(), d.Ref, d.Namespace)
	d.Took = time.Since(start)
	if d.Verdict.Allowed {
		return nil
	}
	if p.Recorder != nil {
		p.Recorder.Record(d)
	}
	return errors.New(DenialMessage(d))
}

// CreateContainer admits or refuses the container.
func (p *Plugin) CreateContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.Deadline)
	defer cancel()

	d := Decision{Ref: ctr.GetAnnotations()[ImageNameAnnotation], Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName()}
	d.Verdict = p.decide(ctx, ctr.GetId(), d.Ref, d.Namespace)
	d.Took = time.Since(start)
	if p.Recorder != nil {
		p.Recorder.Record(d)
	}
	if !d.Verdict.Allowed {
		return nil, nil, errors.New(DenialMessage(d))
	}
	p.admitted.add(ctr.GetId(), d.Ref)
	return nil, nil, nil
}

func (p *Plugin) decide(ctx context.Context, containerID, ref, namespace string) *verify.Verdict {
	if ref == "" {
		return &verify.Verdict{Reason: "the container carries no " + ImageNameAnnotation + " annotation, so its image cannot be determined"}
	}
	// Two independent lookups in containerd: at once, to keep the NRI lock short.
	var (
		chain    digest.Digest
		chainErr error
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		chain, chainErr = p.Resolver.RootFS(ctx, containerID)
	}()
	img, err := p.Resolver.Resolve(ctx, ref)
	<-done
	if err != nil {
		return &verify.Verdict{Image: ref, Reason: "cannot determine the digest that will run: " + err.Error()}
	}
	// The annotation is the CRI client's word; the root filesystem is not.
	if chainErr == nil {
		chainErr = p.Resolver.BuiltFrom(ctx, chain, img)
	}
	if chainErr != nil {
		return &verify.Verdict{Image: verify.RepoName(img.Context()), Digest: img.DigestStr(), Reason: chainErr.Error()}
	}
	return p.Decider.Decide(ctx, verify.Request{Image: img, Namespace: namespace})
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

// Run connects to the NRI socket and serves until ctx ends or the connection
// drops (containerd restarted): the caller reconnects.
func (p *Plugin) Run(ctx context.Context, pluginName, index, socket string, onClose func()) error {
	opts := []stub.Option{stub.WithOnClose(onClose), stub.WithLogger(nriLogger{})}
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
	// On shutdown, answer the requests already in hand (each is bounded by
	// the deadline) before closing the connection.
	stop := context.AfterFunc(ctx, func() {
		done := make(chan struct{})
		go func() { p.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(p.Deadline + 100*time.Millisecond):
		}
		s.Stop()
	})
	defer stop()
	return s.Run(context.WithoutCancel(ctx))
}

// nriLogger sends the NRI stub's chatter to slog, at debug level for the
// routine messages so the daemon stays quiet.
type nriLogger struct{}

func (nriLogger) Debugf(_ context.Context, f string, a ...any) { slog.Debug(fmt.Sprintf(f, a...)) }
func (nriLogger) Infof(_ context.Context, f string, a ...any)  { slog.Debug(fmt.Sprintf(f, a...)) }
func (nriLogger) Warnf(_ context.Context, f string, a ...any)  { slog.Warn(fmt.Sprintf(f, a...)) }
func (nriLogger) Errorf(_ context.Context, f string, a ...any) { slog.Error(fmt.Sprintf(f, a...)) }
