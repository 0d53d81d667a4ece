package nri

import (
	"log/slog"
	"sync"

	"github.com/containerd/nri/pkg/api"
)

// criOName is how CRI-O names itself to NRI plugins.
const criOName = "cri-o"

// validatorFallback drops the validator subscription on CRI-O after CRI-O
// refused it. The NRI version of a CRI-O that does not report its own is
// inferred from CRI-O's version, and one version names two builds: the
// module proxy's v1.34.0 is the tag as first pushed (May 2025, NRI v0.9,
// no validator), the release is NRI v0.10 with it. A runtime refuses a
// plugin that subscribes to an event it does not know by closing the
// connection before registering it; without this, signgate would retry
// forever and never gate. containerd is never downgraded: there, a
// connection closed early is not taken as a refusal. Nor is a CRI-O that
// reports an NRI version with the validator, and an inferred one is taken
// as refused only when it closes refusedAfter connections in a row before
// registering them: one close (CRI-O restarting, a registration timeout
// on a loaded node) must not switch the fail-closed validator off.
type validatorFallback struct {
	mu      sync.Mutex
	asked   *string // the CRI-O version this connection asked for the validator
	closes  int     // connections in a row that version closed before registering
	refused *string // the CRI-O version that closed a connection that asked for it
}

// refusedAfter is how many connections in a row CRI-O must close before
// registering them for signgate to stop asking for the validator: a CRI-O
// without it refuses every time.
const refusedAfter = 3

// events is Configure's subscription, without the validator once the same
// CRI-O refused it: a CRI-O restarted as another version is asked again,
// so a connection closed early for another reason costs the validator only
// until CRI-O's next upgrade, and says so loudly meanwhile.
func (f *validatorFallback) events(log *slog.Logger, runtime, version, nriVersion string, events api.EventMask, validates bool) (api.EventMask, bool) {
	if runtime != criOName || !validates {
		return events, validates
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, reported := release(nriVersion); reported {
		f.asked = nil // it said it has the validator: a close is not a refusal
		return events, validates
	}
	if f.refused != nil && *f.refused == version {
		log.Error("CRI-O refused signgate's NRI validator subscription: it has no validator, so containers are created when signgate is absent or too slow (fails open)", "version", version)
		return events &^ api.MustParseEventMask("ValidateContainerAdjustment"), false
	}
	if f.asked == nil || *f.asked != version {
		f.closes = 0
	}
	f.asked = &version
	return events, validates
}

// closedBeforeStart notes a connection closed between Configure and
// Synchronize: CRI-O's answer to a subscription it does not know (the
// stub's Start has returned by then, so only Synchronize tells).
func (f *validatorFallback) closedBeforeStart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		return
	}
	if f.closes++; f.closes >= refusedAfter {
		f.refused, f.asked, f.closes = f.asked, nil, 0
	}
}

// started notes a registered connection: its subscription was accepted.
func (f *validatorFallback) started() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked, f.closes = nil, 0
}

// ValidatorRefused reports that the runtime refused the validator
// subscription: the gate fails open there, whatever its config says.
func (p *Plugin) ValidatorRefused() bool {
	p.fallback.mu.Lock()
	defer p.fallback.mu.Unlock()
	return p.fallback.refused != nil
}
