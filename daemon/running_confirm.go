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

// unanswered is why the loop judges when a verdict the registry did not
// give is due to be asked again.
const unanswered = "asking again about a running container the registry did not answer for"

// askAgain schedules the loop's next judgement wait from now when cause
// says the registry did not answer (registry_error: unreachable, or a 401
// to the credentials tried; rate_limited; pending): such a verdict stops
// nothing, and a revocation behind it must still be caught once the
// registry answers, with no other change to judge it again. The other
// causes that are not final (misconfigured, the doubts about which image
// runs) say nothing the registry could change; a reload or a new
// connection judges them again. The caller holds r.mu.
func (r *runningState) askAgain(cause verify.Cause, wait time.Duration) {
	if registryDoubt(cause) {
		r.againBy(r.now().Add(wait))
	}
}

// againBy has the loop judge again by due at the latest. The caller holds
// r.mu.
func (r *runningState) againBy(due time.Time) {
	if r.againAt.IsZero() || due.Before(r.againAt) {
		r.againAt = due
	}
}

// againDue is how long until a verdict the registry did not give is asked
// again; ok is false when none waits.
func (r *runningState) againDue() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.againAt.IsZero() {
		return 0, false
	}
	return max(r.againAt.Sub(r.now()), 0), true
}
