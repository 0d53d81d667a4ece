package daemon

import (
	"time"

	"github.com/signgate/signgate/verify"
)

// A final denial stops a running container only once confirmed: the same
// cause seen by two judgements of the loop at least the policy's
// stop_confirm apart, and at least cache.deny_ttl apart, so the second
// verdict was read from the registry after the first was seen. A
// signature tag lost for a moment (a mirror's 404, a registry's garbage
// collection racing a re-push) reads as no_signatures, a final cause; a
// stop must not hang on one read. A revocation that is real denies again
// a minute later, and the loop judges again then, on its own. The rule
// asks nothing of how the container was admitted, so it holds for the
// containers created before signgate started too. Sightings are kept in
// memory: a restarted signgate confirms anew.

// confirming is why the loop judges when a stop's confirmation is due.
const confirming = "confirming an untrusted running container before stopping it"

// sighting is a final denial of a running container, first seen at.
type sighting struct {
	cause verify.Cause
	at    time.Time
}

// confirmed records a final denial of container id with cause and reports
// whether it confirms one seen at least wait before (same cause); due is
// when it will. schedule: a stop waits on it, so the loop judges then.
// The caller holds r.mu.
func (r *runningState) confirmed(id string, cause verify.Cause, wait time.Duration, schedule bool) (ok bool, due time.Time) {
	now := r.now()
	s, seen := r.sightings[id]
	if !seen || s.cause != cause {
		s = sighting{cause: cause, at: now}
		r.sightings[id] = s
	}
	due = s.at.Add(wait)
	if !now.Before(due) {
		return true, due
	}
	if schedule && (r.confirmAt.IsZero() || due.Before(r.confirmAt)) {
		r.confirmAt = due
	}
	return false, due
}

// confirmDue is how long until a stop's confirmation is due; ok is false
// when none waits.
func (r *runningState) confirmDue() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.confirmAt.IsZero() {
		return 0, false
	}
	return max(r.confirmAt.Sub(r.now()), 0), true
}
