package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Finding is one guarantee and whether it holds on the node.
type Finding struct {
	Guarantee string
	Holds     bool
	// Optional: a defence in depth signgate works without (the pull-time
	// gate, the runtime's own digest); the others are the gate itself.
	Optional bool
	// Detail says why, and for one that does not hold, what to change.
	Detail string
}

// Node is what Check looks at.
type Node struct {
	Version  string        // containerd's, as its version service reports it
	Config   *Containerd   // nil when the configuration could not be read
	Deadline time.Duration // signgate's decision_deadline
	Plugin   string        // the name signgate registers with NRI ("signgate")
	// TrustRoots are the trust roots kept from TUF repositories, judged at
	// Now.
	TrustRoots []TrustRoot
	Now        time.Time
	// Listeners are the running daemon's metrics and API listeners, as
	// probed; none when doctor was asked not to probe.
	Listeners []Listener
	// Running is what the daemon answered for readiness; nil when doctor
	// was asked not to probe.
	Running *Running
	// CRIO is set when the runtime is CRI-O ([daemon.runtime]): its
	// configuration (nil when unreadable) replaces containerd's (crio.go).
	CRIO *CRIO
	// CRIOFiles is CRI-O's files, read as CRI-O reads them, when CRIO is
	// its running config; CRIORunningErr, why that could not be read.
	CRIOFiles           *CRIO
	CRIORunningErr      string
	Runtime             string
	CRIOStorageReadable bool
	CRIOStop            CRIOStop
	// CRIORestoreUnsafe is [daemon.runtime] crio_checkpoint_restore_unsafe.
	CRIORestoreUnsafe bool
	// PolicySource: the policy from [policy_source]; nil without one.
	PolicySource *PolicySource
}

// TrustRoot is a trust root kept from a TUF repository, as loaded.
type TrustRoot struct {
	Name     string
	Mirror   string
	Loaded   bool      // a last-known-good copy is in force
	Verified time.Time // when an update last vouched for it
	NotAfter time.Time // when it goes stale unless an update vouches again
	Limit    string    // what set NotAfter
}

// DefaultVerifierDir is containerd's image verifier directory by default.
const DefaultVerifierDir = "/opt/containerd/image-verifier/bin"

// defaultNRIRequestTimeout is containerd's plugin_request_timeout default.
const defaultNRIRequestTimeout = 2 * time.Second

// Check says, guarantee by guarantee, what holds on the node.
func Check(n Node) []Finding {
	var out []Finding
	if n.Running != nil {
		out = append(out, runningFinding(*n.Running), connectedFinding(n))
	}
	if n.Runtime == "crio" {
		return append(append(out, checkCRIO(n)...), n.common()...)
	}
	r, err := ParseRelease(n.Version)
	if err != nil {
		return append(out, Finding{Guarantee: "containerd's version is known", Detail: err.Error()})
	}
	cfg := n.Config
	if cfg == nil {
		cfg = &Containerd{}
	}
	const drop = "the 2.x drop-in (/usr/share/signgate/containerd-2.toml, packaging/containerd/signgate.toml) in a directory config.toml imports"
	const drop17 = "the 1.7 drop-in (/usr/share/signgate/containerd-1.7.toml) in config.toml's NRI table"

	// NRI itself: off by default in 1.x, on in 2.x.
	nriOn := r.NRIOnByDefault()
	if cfg.NRIDisable != nil {
		nriOn = !*cfg.NRIDisable
	}
	f := Finding{Guarantee: "NRI is on, so signgate sees every container creation", Holds: nriOn}
	switch {
	case nriOn:
		f.Detail = "plugins.\"io.containerd.nri.v1.nri\".disable is false or containerd's default"
	case !r.NRIOnByDefault():
		f.Detail = "containerd 1.x ships NRI turned off: set disable = false in plugins.\"io.containerd.nri.v1.nri\" (" + drop17 + ")"
	default:
		f.Detail = "plugins.\"io.containerd.nri.v1.nri\".disable = true: remove it or set it to false"
	}
	out = append(out, f)

	// Failing closed needs NRI's validator requiring signgate.
	f = Finding{Guarantee: "fails closed: no container is created while signgate is absent, killed or too slow"}
	switch {
	case !r.HasValidator():
		f.Detail = fmt.Sprintf("containerd %s has no NRI validator (containerd 2.2 added it): the gate fails open when signgate is not answering. Upgrade containerd to 2.2 or newer and install %s", r, drop)
	case !cfg.Validator || !slices.Contains(cfg.RequiredPlugins, n.Plugin):
		f.Detail = fmt.Sprintf("the default validator must be enabled and require %q: install %s", n.Plugin, drop)
	default:
		f.Holds, f.Detail = true, fmt.Sprintf("the default validator requires %q", n.Plugin)
	}
	out = append(out, f)

	if r.HasValidator() {
		out = append(out, optOut("tolerate_missing_plugins_annotation", cfg.TolerateAnnotation))
	}

	timeout := cfg.NRIRequestTimeout
	if timeout == 0 {
		timeout = defaultNRIRequestTimeout
	}
	f = Finding{Guarantee: "signgate answers before containerd stops waiting", Holds: n.Deadline < timeout}
	f.Detail = fmt.Sprintf("decision_deadline %s < plugin_request_timeout %s", n.Deadline, timeout)
	if !f.Holds {
		f.Detail = fmt.Sprintf("decision_deadline %s is not below containerd's plugin_request_timeout %s: signgate answers within three quarters of the timeout instead; lower decision_deadline or raise the timeout", n.Deadline, timeout)
	}
	out = append(out, f)

	f = Finding{Guarantee: "pull-time gate: untrusted images are not even pulled", Optional: true}
	dir := cfg.VerifierDir
	if dir == "" {
		dir = DefaultVerifierDir
	}
	switch {
	case !r.HasPullGate():
		f.Detail = fmt.Sprintf("containerd %s's CRI pulls do not consult image verifiers (2.1 and newer do); the gate is at container creation only", r)
	case !hasVerifier(dir):
		f.Detail = fmt.Sprintf("no signgate verifier in %s: ln -s /usr/bin/signgate-image-verifier %s", dir, filepath.Join(dir, "signgate"))
	default:
		f.Holds, f.Detail = true, "signgate's verifier is in "+dir
	}
	out = append(out, f)

	f = Finding{Guarantee: "image volumes are verified like root filesystems", Holds: true}
	f.Detail = "signgate verifies each image mounted as a CRI image volume"
	if !r.HasImageVolumes() {
		f.Detail = fmt.Sprintf("containerd %s cannot mount image volumes at all", r)
	}
	out = append(out, f)

	out = append(out, snapshotRootsFinding(cfg))

	f = Finding{Guarantee: "containerd itself reports each container's image digest", Holds: r.FillsContainerImage(), Optional: true}
	f.Detail = "NRI's Container.Image is checked against the image store, and its config digest binds the image config at creation"
	if !f.Holds {
		f.Detail = "containerd 2.4 and newer report it; until then signgate relies on the image store and the root filesystem binding, and binds the image config only at StartContainer, which fails open if signgate misses the start"
	}
	out = append(out, f)
	return append(out, n.common()...)
}

// common are the findings on any runtime: trust roots and listeners.
func (n Node) common() []Finding {
	var out []Finding
	for _, tr := range n.TrustRoots {
		out = append(out, trustRootFinding(tr, n.Now))
	}
	for _, l := range n.Listeners {
		out = append(out, listenerFinding(l))
	}
	if n.PolicySource != nil {
		out = append(out, policySourceFindings(*n.PolicySource, n.Now)...)
	}
	return out
}

// trustRootFinding: keyless identities under a trust root from TUF verify
// only while its repository has vouched for it within its staleness limit.
func trustRootFinding(tr TrustRoot, now time.Time) Finding {
	f := Finding{Guarantee: fmt.Sprintf("trust root %q is current: its TUF repository vouched for it within its staleness limit", tr.Name)}
	switch {
	case !tr.Loaded:
		f.Detail = fmt.Sprintf("no usable copy has been fetched from %s (see signgate check-config): identities under it verify nothing", tr.Mirror)
	case !now.Before(tr.NotAfter):
		f.Detail = fmt.Sprintf("stale: last verified at %s, %s ago, trusted only until %s (%s), %s ago; identities under it verify nothing until %s can be reached",
			tr.Verified.UTC().Format(time.RFC3339), now.Sub(tr.Verified).Round(time.Second), tr.NotAfter.UTC().Format(time.RFC3339), tr.Limit, now.Sub(tr.NotAfter).Round(time.Second), tr.Mirror)
	default:
		f.Holds = true
		f.Detail = fmt.Sprintf("last verified at %s; trusted until %s (%s) unless an update vouches for it again", tr.Verified.UTC().Format(time.RFC3339), tr.NotAfter.UTC().Format(time.RFC3339), tr.Limit)
	}
	return f
}

func hasVerifier(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "signgate") {
			return true
		}
	}
	return false
}

// BootstrapAnnotation is the one opt-out the shipped DaemonSet drop-in
// names: signgate's own pod carries it, so signgate can start on a node
// that requires it, and the shipped admission policy reserves it to pods
// the DaemonSet controller makes in signgate's namespace.
const BootstrapAnnotation = "signgate.dev/bootstrap"

// optOut is the finding on the validator's opt-out annotation (key names
// it in the runtime's config).
func optOut(key, annotation string) Finding {
	f := Finding{Guarantee: "no pod can opt out of the gate"}
	switch annotation {
	case "":
		f.Holds, f.Detail = true, key+" is not set"
	case BootstrapAnnotation:
		f.Holds, f.Detail = true, fmt.Sprintf("%s = %q: the DaemonSet drop-in's, so signgate's own pod starts without signgate; "+
			"only pods carrying it run ungated, and the shipped ValidatingAdmissionPolicy (signgate-bootstrap-annotation) refuses it on any pod "+
			"the DaemonSet controller did not make in signgate's namespace: keep that policy installed", key, annotation)
	default:
		f.Detail = fmt.Sprintf("%s = %q lets any pod carrying that annotation run without signgate: remove it, or have an admission policy reserve that annotation as signgate-bootstrap-annotation reserves %s", key, annotation, BootstrapAnnotation)
	}
	return f
}
