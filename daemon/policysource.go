package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// policyMetrics say which policy is in force and what was refused.
type policyMetrics struct {
	serial   prometheus.Gauge
	verified prometheus.Gauge
	stale    prometheus.Gauge
	refused  *prometheus.CounterVec
	errors   prometheus.Counter
}

func newPolicyMetrics(reg *prometheus.Registry) *policyMetrics {
	m := &policyMetrics{
		serial: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_policy_serial", Help: "The serial of the policy from [policy_source] in force (0: none verified yet, every image denied).",
		}),
		verified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_policy_verified_timestamp_seconds", Help: "When the policy source last confirmed the policy in force.",
		}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_policy_stale", Help: "1 while the policy in force is older than policy_source.max_staleness.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_policy_refused_total", Help: "Policies from [policy_source] refused, by reason (unsigned, untrusted, rollback, malformed, no_expires, expires_too_far, expired, overreach); the one in force stays.",
		}, []string{"reason"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signgate_policy_fetch_errors_total", Help: "Refreshes of [policy_source] that did not reach it; the one in force stays.",
		}),
	}
	reg.MustRegister(m.serial, m.verified, m.stale, m.refused, m.errors)
	return m
}

// policyState is the daemon's side of [policy_source].
type policyState struct {
	mu      sync.Mutex // serialises refreshes
	metrics *policyMetrics
	kept    atomic.Pointer[policysource.Kept] // in force; nil for none
	now     func() time.Time                  // staleness's clock; tests set one
	// refused is the artifact and reason last refused: refused again at
	// the next refresh (a signature may be added later), it is counted
	// and logged once.
	refused string
	// refusedTenants: the same, per delegated fragment.
	refusedTenants map[string]bool
	// poke asks the refresh loop for a refresh now: a reload that leaves
	// no policy in force (one set aside) must not wait for refresh.
	poke chan struct{}
}

func (d *Daemon) policyNow() time.Time {
	if d.ps.now != nil {
		return d.ps.now()
	}
	return time.Now()
}

// showPolicy sets the metrics from the config in force.
func (d *Daemon) showPolicy(cfg *setup.Config) {
	src := cfg.Source
	if src == nil {
		return
	}
	d.ps.kept.Store(src.Kept)
	if src.Kept == nil {
		d.ps.metrics.serial.Set(0)
		return
	}
	d.ps.metrics.serial.Set(float64(src.Kept.Serial))
	d.ps.metrics.verified.Set(float64(src.Kept.Verified.Unix()))
	d.checkStale(src, src.Kept, src.Kept.Verified)
}

// refreshIfNoPolicy asks for a refresh at once after a reload that leaves
// no policy in force (the kept one set aside): every image is denied until
// one is verified.
func (d *Daemon) refreshIfNoPolicy(cfg *setup.Config) {
	if cfg.Source == nil || cfg.Source.Kept != nil {
		return
	}
	select {
	case d.ps.poke <- struct{}{}:
	default: // one is already asked for
	}
}

// checkStale says loudly when the policy in force is past max_staleness.
func (d *Daemon) checkStale(src *setup.Source, k *policysource.Kept, verified time.Time) bool {
	stale := src.Stale(k, verified, d.policyNow())
	if !stale {
		d.ps.metrics.stale.Set(0)
		return false
	}
	d.ps.metrics.stale.Set(1)
	what := "the policy stays in force"
	if src.DenyStale {
		what = "every image is denied (on_stale = \"deny\")"
	}
	d.log.Error("policy source: the policy in force is stale; "+what, "reference", src.Reference, "verified", verified.UTC(), "max_staleness", src.MaxStaleness, "expires", k.Expires.UTC())
	return true
}

// staleDenial is the verdict when on_stale = "deny" and the policy in force
// is past max_staleness now; nil otherwise. Judged at each decision, not
// only at each refresh.
func (d *Daemon) staleDenial(req verify.Request) *verify.Verdict {
	src := d.config().Source
	k := d.ps.kept.Load()
	now := d.policyNow()
	if src == nil || !src.DenyStale || k == nil || !src.Stale(k, k.Verified, now) {
		return nil
	}
	repo, _ := verify.CanonicalRepo(req.Image.Context())
	if setup.Expired(k, now) {
		return verify.Deny(repo, req.Image.DigestStr(), verify.CauseMisconfigured,
			fmt.Sprintf("the policy from policy_source (serial %d) expired at %s (its signed expires), and on_stale = \"deny\": every image is denied until a newer policy is published",
				k.Serial, k.Expires.UTC().Format(time.RFC3339)))
	}
	return verify.Deny(repo, req.Image.DigestStr(), verify.CauseMisconfigured,
		fmt.Sprintf("the policy from policy_source (serial %d) was last confirmed at %s, longer ago than max_staleness (%s), and on_stale = \"deny\": every image is denied until the source is reached",
			k.Serial, k.Verified.UTC().Format(time.RFC3339), src.MaxStaleness))
}

// policyLoop refreshes the policy from [policy_source] at once and then
// every refresh interval.
func (d *Daemon) policyLoop(ctx context.Context) {
	for {
		_ = d.RefreshPolicy(ctx)
		src := d.config().Source
		if src == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wait(src.Refresh):
		case <-d.ps.poke:
		}
	}
}

// RefreshPolicy fetches the policy from [policy_source] and verifies it;
// a newer one is kept and reloaded, one that is not trusted or goes
// backwards is refused and the one in force stays. It returns the refusal
// or the reason the source was not reached.
func (d *Daemon) RefreshPolicy(ctx context.Context) error {
	d.ps.mu.Lock()
	defer d.ps.mu.Unlock()
	cfg := d.config()
	src := cfg.Source
	if src == nil {
		return nil
	}
	if src.SignersNow() != src.Signers {
		// The signers' files are read again below: verifying under the
		// new ones and keeping it under the old fingerprint would set it
		// aside at the next start, and the policy in force must answer
		// to the new signers now, not at the next watch tick.
		d.log.Info("policy source: its signers' files changed since the config was loaded; reloading", "config", d.path)
		if err := d.Reload(); err != nil {
			return err
		}
		if cfg = d.config(); cfg.Source == nil || cfg.Source.SignersNow() != cfg.Source.Signers {
			return fmt.Errorf("%s: the policy source's signers' files changed while it was loaded: not verified until they settle", d.path)
		}
		src = cfg.Source
	}
	inForce := d.ps.kept.Load()
	engine, reg, err := src.SourceEngine(d.policyNow)
	if err != nil {
		d.log.Error("policy source: cannot build its verifier", "reference", src.Reference, "err", err)
		return err
	}
	ref := src.Reference
	if src.Path != "" {
		served, stop, err := policysource.ServeLayout(src.Path)
		if err != nil && policysource.Reason(err) != "" {
			return d.policyFailed(src, inForce, err, d.policyNow())
		}
		if err != nil {
			d.ps.metrics.errors.Inc()
			d.log.Warn("policy source: the layout cannot be read; the policy in force stays", "path", src.Path, "err", err)
			return err
		}
		defer stop()
		ref = served
	}
	fctx, cancel := context.WithTimeout(ctx, cfg.Registry.VerifyTimeout)
	got, err := policysource.Fetch(fctx, engine, reg, ref, cfg.Registry.MaxBlobBytes)
	cancel()
	change := policysource.Same
	if err == nil {
		err = policysource.CheckFragmentExpires(src.Reference, got.Digest, got.Fragment, src.AllowNoExpires, src.MaxValidity, d.policyNow(), policysource.IssuedAt(got.Verdict), cfg.Path)
	}
	if err == nil {
		change, err = d.accept(src, inForce, got)
	}
	if err == nil && change == policysource.Newer {
		// It must compile with this node's bootstrap before it is kept: a
		// kept policy is what the next start runs with.
		if _, cerr := setup.Compose(cfg.Config, got.Body, got.Digest); cerr != nil {
			err = &policysource.RefusedError{Digest: got.Digest, Reason: "malformed", Err: cerr}
		}
	}
	now := d.policyNow()
	if err != nil {
		return d.policyFailed(src, inForce, err, now)
	}
	var prev map[string]*policysource.Tenant
	if inForce != nil {
		prev = inForce.Tenants
	}
	var floors map[string]*policysource.Tenant
	if inForce == nil && src.Floor != nil {
		// The set-aside policy's tenants bound their serials as its
		// serial bounds the root's: an upgrade opens no tenant rollback,
		// and none of them is taken unless verified now.
		floors = src.Floor.Tenants
	}
	var was map[string]*policysource.Absence
	if inForce != nil {
		was = inForce.Absent
	}
	fetched, refusal, absent := d.refreshTenants(ctx, cfg, got, prev, floors, was, now)
	// Each tenant was checked alone; the full set is what the reload
	// runs, so it is compiled before it is kept: a fragment that does
	// not fit with the others is refused and its previous one stays.
	_, tenants, dropped, ferr := setup.FitTenants(cfg.Config, got.Body, fetched, prev, got.Digest)
	if ferr != nil {
		return d.policyFailed(src, inForce, &policysource.RefusedError{Digest: got.Digest, Reason: "malformed", Err: ferr}, now)
	}
	for _, n := range slices.Sorted(maps.Keys(dropped)) {
		refusal = latestRefusal(d.tenantRefused(src, n, fetched[n].Digest, dropped[n], now), refusal)
		if tenants[n] == nil {
			absent[n] = policysource.AbsenceOf(policysource.AsRefused(fetched[n].Digest, dropped[n]))
		}
	}
	if len(absent) == 0 {
		absent = nil
	}
	tchanged := tenantsChanged(prev, tenants) || absentChanged(was, absent)
	kept := &policysource.Kept{Reference: src.Reference, Digest: got.Digest, Serial: got.Fragment.Serial, Body: string(got.Body), Verified: now, Expires: got.Fragment.Expires, Issued: policysource.IssuedAt(got.Verdict), Tenants: tenants, Absent: absent, Signers: src.Signers, SignerMaterial: src.Material}
	// The refusals stay for doctor when a newer policy is taken, and
	// those kept before the first one too.
	if before := d.refusalsBefore(cfg, inForce); before != nil {
		kept.Refusals, kept.LastRefusal = before.Refusals, before.LastRefusal
	}
	if refusal != nil {
		kept.Refusals++
		kept.LastRefusal = refusal
	}
	if err := policysource.WriteKept(cfg.Daemon.StateDir, kept, now); err != nil {
		d.log.Error("policy source: cannot keep the verified policy; not taken", "reference", src.Reference, "err", err)
		return err
	}
	if change == policysource.Same && !tchanged {
		d.ps.kept.Store(kept) // the one in force, confirmed now
		d.ps.metrics.verified.Set(float64(now.Unix()))
		d.checkStale(src, kept, now)
		return nil
	}
	if change == policysource.Newer {
		d.log.Info("policy source: a newer policy verified; taking it", "reference", src.Reference, "digest", got.Digest, "serial", kept.Serial, "verified_by", fmt.Sprint(got.Verdict.VerifiedBy()))
	}
	return d.Reload()
}

// accept is policysource.Accept against the policy in force or, with none,
// against a kept one set aside though verified by these signers (Floor):
// an upgrade must not let the source roll it back.
func (d *Daemon) accept(src *setup.Source, inForce *policysource.Kept, got *policysource.Fetched) (policysource.Change, error) {
	if inForce != nil || src.Floor == nil {
		return policysource.Accept(inForce, got.Digest, got.Fragment.Serial, src.MinSerial)
	}
	_, err := policysource.Accept(src.Floor, got.Digest, got.Fragment.Serial, src.MinSerial)
	if err != nil && src.Floor.Signers == "" {
		return 0, fmt.Errorf("%w (the serial of the policy kept by an older signgate, set aside; if the signers changed since, remove %s)", err, policysource.Path(d.config().Daemon.StateDir))
	} else if err != nil {
		return 0, fmt.Errorf("%w (the serial of the kept policy %s, set aside: %v; if the source's serials restarted, remove %s)", err, src.Floor.Digest, src.KeptError, policysource.Path(d.config().Daemon.StateDir))
	}
	return policysource.Newer, nil // the set-aside one, verified now, is taken
}

// refusalsBefore is the state holding the refusals so far: the policy in
// force, or the refusals kept before any was.
func (d *Daemon) refusalsBefore(cfg *setup.Config, inForce *policysource.Kept) *policysource.Kept {
	if inForce != nil {
		return inForce
	}
	k, err := policysource.ReadKept(cfg.Daemon.StateDir)
	if err != nil || k == nil || k.Reference != cfg.Source.Reference {
		return nil
	}
	return k
}

// policyFailed logs, counts and keeps a refusal, or notes an unreachable
// source; the policy in force stays either way.
func (d *Daemon) policyFailed(src *setup.Source, inForce *policysource.Kept, err error, now time.Time) error {
	reason := policysource.Reason(err)
	if reason == "" {
		d.ps.metrics.errors.Inc()
		d.log.Warn("policy source: not reached; the policy in force stays", "reference", src.Reference, "err", err)
		if inForce != nil {
			d.checkStale(src, inForce, inForce.Verified)
		}
		return err
	}
	serial := int64(0)
	kept := &policysource.Kept{Reference: src.Reference}
	if inForce != nil {
		k := *inForce
		kept, serial = &k, k.Serial
	} else if before := d.refusalsBefore(d.config(), nil); before != nil && before.Digest == "" {
		kept.Refusals = before.Refusals // refusals only: none taken yet
	} else if before != nil {
		// A policy set aside stays on disk (its serial, its refusals):
		// a refusal must not erase the last verified policy.
		k := *before
		kept = &k
	}
	digest := ""
	var re *policysource.RefusedError
	var rb *policysource.RollbackError
	if errors.As(err, &re) {
		digest = re.Digest
	} else if errors.As(err, &rb) {
		digest = rb.Digest
	}
	if d.ps.refused == digest+" "+reason {
		d.log.Debug("policy source: the same policy refused again", "reference", src.Reference, "reason", reason, "digest", digest)
		return err
	}
	d.ps.refused = digest + " " + reason
	d.ps.metrics.refused.WithLabelValues(reason).Inc()
	kept.Refusals++
	kept.LastRefusal = &policysource.Refusal{At: now, Digest: digest, Reason: reason, Error: err.Error()}
	if werr := policysource.WriteKept(d.config().Daemon.StateDir, kept, now); werr != nil {
		d.log.Error("policy source: cannot record the refusal", "err", werr)
	} else if inForce != nil {
		d.ps.kept.Store(kept)
	}
	d.log.Error("policy source: policy refused; the one in force stays", "reference", src.Reference, "reason", reason, "digest", digest, "serial_in_force", serial, "err", err)
	return err
}

// sourceChange refuses a reload that adds or removes [policy_source]: the
// refresh loop runs from start, so such a change takes effect on restart.
func sourceChange(old, cfg *setup.Config) error {
	if (old.Source == nil) != (cfg.Source == nil) {
		return fmt.Errorf("%s: [policy_source] added or removed; that takes effect on restart", cfg.Path)
	}
	return nil
}
