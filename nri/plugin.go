// Package nri is signgate's containerd NRI plugin: on CreateContainer it
// asks the runtime what the container will run (containers.Runtime), asks
// the verification engine, and fails the creation when the image is not
// trusted.
package nri

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/verify"
)

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
	// ContainerID is containerd's ID of the container ("" for a pod
	// sandbox): the decision log is the record of what verified each
	// container (the annotations are opt-in).
	ContainerID string
	Took        time.Duration
	// RuntimeImage: containerd reported the image itself (NRI's
	// Container.Image, 2.4+) and the decision checked it.
	RuntimeImage bool
	// FromMemory: the runtime was not asked what runs; its events had
	// told signgate already (see containers.Runs).
	FromMemory bool
}

// Recorder receives every decision (journald, metrics, tests).
type Recorder interface {
	Record(Decision)
}

// Plugin implements the NRI handlers signgate subscribes to.
type Plugin struct {
	// Runtime answers what a container runs: containerd's image store, or
	// another runtime's.
	Runtime  containers.Runtime
	Decider  Decider
	Recorder Recorder
	// Log is where the plugin logs (the daemon's logger); nothing is
	// logged when it is nil.
	Log *slog.Logger
	// Deadline bounds each answer (decision_deadline). It must be shorter
	// than containerd's NRI request timeout, or containerd drops the plugin
	// and creates the container: once connected, the plugin learns that
	// timeout and answers within three quarters of it if Deadline is longer.
	Deadline time.Duration
	// Annotate adds the signgate.dev/ annotations to allowed containers.
	Annotate bool
	// AllowCheckpointRestore admits a container restored from a checkpoint
	// image that is itself allowed (see decideRestore); otherwise refused.
	AllowCheckpointRestore bool
	ceiling                atomic.Int64   // from the NRI request timeout, once connected
	admitted               admittedSet    // containers CreateContainer allowed, for the validator
	conn                   atomic.Uint64  // which NRI connection is current; admissions are bound to it
	created                createdSet     // what each created container runs, re-checked at start
	running                runningSet     // containers started and not removed, judged again on a key change
	inflight               sync.WaitGroup // requests being answered, for a clean stop
	// runtimeNRI is the runtime's NRI version, once connected.
	runtimeNRI func() string
	peer       atomic.Pointer[Peer] // the runtime NRI's Configure named (peer.go)
	// self: the name and index Run registers as (impostor.go).
	self atomic.Pointer[pluginID]
	// Synchronized, if set, is called once containerd has listed the
	// running containers (NRI Synchronize, on every connection), which
	// may come after the connection is reported up.
	Synchronized func()
	// OnRuntime, if set, is told the runtime NRI's Configure names; an
	// error refuses the connection (peer.go).
	OnRuntime func(name, version string) error
	// PodCredentials, if set, adds a pod's pull secrets to its own
	// verifications (podcredentials.go).
	PodCredentials PodCredentials
	// SandboxRefused, if set, is called with the ID of each pod sandbox
	// RunPodSandbox refuses, whose task the runtime has started already.
	SandboxRefused func(id string)
	// StartRefused, if set, is called with the ID of each container whose
	// start StartContainer refused, once the runtime says it started it
	// all the same (CRI-O does; PostStartContainer).
	StartRefused func(id string)
	// HookPrograms, if set, lists the host programs other plugins' hooks
	// may run ([hooks] allowed_programs in force); unset: none (hookallow.go).
	HookPrograms func() []string
	// MountSources, if set, lists the host directories other plugins'
	// mounts may bind ([added_mounts] allowed_sources in force) and the
	// runtimes' state none may; unset: none (mountallow.go).
	MountSources func() (allowed, stateDirs []string)
	startRefused sync.Map // container ID -> whether it runs though its start was refused
	// hostProgram resolves a listed hook program: trustpath.Resolve
	// unless a test sets it.
	hostProgram func(string) (string, error)
	// fallback: CRI-O builds that refuse the validator (fallback.go).
	fallback validatorFallback
}

// discard is the logger of a plugin given none.
var discard = slog.New(slog.DiscardHandler)

func (p *Plugin) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return discard
}

func (p *Plugin) record(d Decision) {
	if p.Recorder != nil {
		p.Recorder.Record(d)
	}
}

// denialMessage is what the CRI client (crictl, the kubelet's event) shows.
func denialMessage(d Decision) string {
	v := d.Verdict
	img := d.Ref
	if v.Digest != "" {
		img = fmt.Sprintf("%s (%s@%s)", d.Ref, v.Image, v.Digest)
	}
	return fmt.Sprintf("signgate denied image %s: %s", img, v.Reason)
}
