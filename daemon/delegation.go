package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// refreshTenants fetches each delegation's fragment under root (verified
// now) and returns the tenants to keep, the last refusal, and why each
// delegation left without a fragment has none (was: as the refresh
// before found). A tenant's fragment that is not signed by its
// delegation's keys, goes backwards, reaches beyond its delegation or
// does not compile is refused, naming the delegation, and the tenant's
// previous fragment stays while the delegation still allows it.
func (d *Daemon) refreshTenants(ctx context.Context, cfg *setup.Config, root *policysource.Fetched, prev, floors map[string]*policysource.Tenant, was map[string]*policysource.Absence, now time.Time) (map[string]*policysource.Tenant, *policysource.Refusal, map[string]*policysource.Absence) {
	src := cfg.Source
	out := map[string]*policysource.Tenant{}
	absent := map[string]*policysource.Absence{}
	var refusal *policysource.Refusal
	for _, n := range slices.Sorted(maps.Keys(root.Fragment.Delegations)) {
		del := root.Fragment.Delegations[n]
		old := prev[n]
		if old != nil && old.Reference != del.Reference {
			old = nil // the delegation now names another fragment
		}
		var dropped error // why old left force now
		if old != nil && old.Expired(now) {
			// Past its signed expires: a tenant's registry serving it on
			// (a freeze) keeps it no longer than it was signed for.
			dropped = policysource.TenantExpiredError(n, old)
			refusal = latestRefusal(d.tenantRefused(src, n, old.Digest, dropped, now), refusal)
			old = nil
		}
		// The previous fragment stays only if the delegation, perhaps
		// narrowed by this root, still allows it.
		if old != nil {
			if _, err := setup.ComposeTenants(cfg.Config, root.Body, map[string]*policysource.Tenant{n: old}, root.Digest); err != nil {
				dropped = policysource.AsRefused(old.Digest, err)
				refusal = latestRefusal(d.tenantRefused(src, n, old.Digest, err, now), refusal)
				old = nil
			}
		}
		t, err := d.fetchTenant(ctx, cfg, root, n, old, floors[n])
		var re *policysource.RefusedError
		switch {
		case err == nil:
			out[n] = t
		case errors.As(err, &re) && old != nil && re.Digest == old.Digest:
			// The fragment in force is itself refused now (kept before
			// expires was required, say): it does not stay.
		case old != nil:
			out[n] = old
		}
		if out[n] == nil {
			w := was[n]
			if w != nil && w.Reference != del.Reference {
				w = nil // found of the fragment the delegation named before
			}
			a := *absence(err, dropped, w)
			a.Reference = del.Reference
			absent[n] = &a
		}
		if err != nil && policysource.Reason(err) == "" && out[n] != nil {
			d.log.Warn("policy source: a delegated fragment was not reached; the one in force stays", "delegation", n, "reference", del.Reference, "err", err)
		} else if err != nil && policysource.Reason(err) == "" {
			d.log.Warn("policy source: a delegation has no fragment in force; the images it delegates are denied", "delegation", n, "reference", del.Reference, "why", absent[n].Why)
		} else if err != nil {
			var re *policysource.RefusedError
			digest := ""
			if errors.As(err, &re) {
				digest = re.Digest
			}
			refusal = latestRefusal(d.tenantRefused(src, n, digest, err, now), refusal)
		}
	}
	return out, refusal, absent
}

// absence is why a delegation has no fragment in force after a refresh:
// the refusal of the one fetched; else why the one in force was dropped
// (expired, say), which a registry that did not answer leaves so, as it
// leaves what the refresh before found (was); else why none was fetched.
func absence(fetchErr, dropped error, was *policysource.Absence) *policysource.Absence {
	switch {
	case policysource.Reason(fetchErr) != "":
		return policysource.AbsenceOf(fetchErr)
	case dropped != nil:
		return policysource.AbsenceOf(dropped)
	}
	a := policysource.AbsenceOf(fetchErr)
	if a.Cause == policysource.NotReached && was != nil {
		return was
	}
	return a
}

// absentChanged says whether a delegation's absence differs between the
// refresh before (prev) and this one, wording aside: the denials say why.
func absentChanged(prev, out map[string]*policysource.Absence) bool {
	if len(out) != len(prev) {
		return true
	}
	for n, a := range out {
		if !a.Same(prev[n]) {
			return true
		}
	}
	return false
}

// tenantsChanged says whether the tenants to keep differ from those in
// force.
func tenantsChanged(prev, out map[string]*policysource.Tenant) bool {
	if len(out) != len(prev) {
		return true
	}
	for n, t := range out {
		if p := prev[n]; p == nil || p.Digest != t.Digest {
			return true
		}
	}
	return false
}

// fetchTenant fetches and checks delegation n's fragment; old is the one
// in force (nil for none), returned when it is still current.
// floor is the tenant of a kept policy set aside for want of a signers
// record: never in force, but its serial bounds the fragment's.
func (d *Daemon) fetchTenant(ctx context.Context, cfg *setup.Config, root *policysource.Fetched, n string, old, floor *policysource.Tenant) (*policysource.Tenant, error) {
	del := root.Fragment.Delegations[n]
	engine, reg, err := cfg.Source.DelegationEngine(root.Fragment, n, d.policyNow)
	if err != nil {
		return nil, &policysource.RefusedError{Reason: "malformed", Err: err}
	}
	fctx, cancel := context.WithTimeout(ctx, cfg.Registry.VerifyTimeout)
	got, err := policysource.Fetch(fctx, engine, reg, del.Reference, cfg.Registry.MaxBlobBytes)
	cancel()
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("delegation %q fragment %s", n, del.Reference)
	if err := policysource.CheckFragmentExpires(what, got.Digest, got.Fragment, cfg.Source.AllowNoExpires, cfg.Source.MaxValidity, d.policyNow(), policysource.IssuedAt(got.Verdict), cfg.Path); err != nil {
		return nil, err
	}
	t := &policysource.Tenant{Reference: del.Reference, Digest: got.Digest, Serial: got.Fragment.Serial, Body: string(got.Body), Expires: got.Fragment.Expires}
	if t.Expired(d.policyNow()) {
		return nil, policysource.TenantExpiredError(n, t)
	}
	var inForce *policysource.Kept
	if old != nil {
		inForce = &policysource.Kept{Digest: old.Digest, Serial: old.Serial}
	} else if floor != nil && floor.Reference == del.Reference {
		inForce = &policysource.Kept{Digest: floor.Digest, Serial: floor.Serial}
	}
	change, err := policysource.Accept(inForce, got.Digest, got.Fragment.Serial, 0)
	if err != nil {
		return nil, &policysource.RefusedError{Digest: got.Digest, Reason: "rollback", Err: fmt.Errorf("delegation %q: %w", n, err)}
	}
	signers := policysource.DelegationSigners(root.Fragment, n)
	if change == policysource.Same && old != nil {
		if old.Signers != signers {
			t := *old // kept unrecorded: verified under these signers now
			t.Signers = signers
			return &t, nil
		}
		return old, nil
	}
	t.Signers = signers
	if _, err := setup.ComposeTenants(cfg.Config, root.Body, map[string]*policysource.Tenant{n: t}, root.Digest); err != nil {
		reason := "malformed"
		var oe *policysource.OverreachError
		if errors.As(err, &oe) {
			reason = "overreach"
		}
		return nil, &policysource.RefusedError{Digest: got.Digest, Reason: reason, Err: err}
	}
	d.log.Info("policy source: a delegated fragment verified; taking it", "delegation", n, "reference", del.Reference, "digest", got.Digest, "serial", t.Serial)
	return t, nil
}

// tenantRefused logs and counts a refused tenant's fragment once, and
// returns the refusal to keep for doctor then (nil when already counted).
func (d *Daemon) tenantRefused(src *setup.Source, n, digest string, err error, now time.Time) *policysource.Refusal {
	reason := policysource.Reason(err)
	if reason == "" {
		reason = "overreach"
		var oe *policysource.OverreachError
		if !errors.As(err, &oe) {
			reason = "malformed"
		}
	}
	key := "delegation " + n + " " + digest + " " + reason
	if d.ps.refusedTenants[key] {
		return nil
	}
	if d.ps.refusedTenants == nil {
		d.ps.refusedTenants = map[string]bool{}
	}
	d.ps.refusedTenants[key] = true
	d.ps.metrics.refused.WithLabelValues(reason).Inc()
	d.log.Error("policy source: a delegated fragment refused; the tenant's previous one stays if still allowed", "reference", src.Reference, "delegation", n, "reason", reason, "digest", digest, "err", err)
	return &policysource.Refusal{At: now, Digest: digest, Reason: reason, Error: err.Error()}
}

func latestRefusal(a, b *policysource.Refusal) *policysource.Refusal {
	if a != nil {
		return a
	}
	return b
}
