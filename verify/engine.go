package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
)

// Snapshot is one immutable generation of policy and keys. Reloading swaps the
// whole snapshot. A verdict is bound to what produced it: with Config set, to
// the config and the exact key and certificate versions its policy trusts, so
// a rotated or revoked KMS key drops only the verdicts of policies that name
// it; without, to the whole snapshot ID.
type Snapshot struct {
	ID       string
	Policies Policies
	Keys     *keystore.Store
	// Signers are the keyless identities, each with its trust root.
	Signers map[string]*Signer
	// TrustRoots by name, for policies that check key signatures' log
	// entries (tlog_root).
	TrustRoots map[string]*TrustRoot
	// Config identifies everything but the keys (the config file's content).
	Config string
	// Plugins are the notation verification plugins the config names, by
	// name: the only programs a signature may have run.
	Plugins map[string]*NotationPlugin

	// stale holds the trust roots past their NotAfter when the snapshot
	// was made (see live), and why: identities under them verify nothing.
	stale map[string]string

	expOnce  sync.Once
	exp      time.Time // see expires
	bindOnce sync.Once
	binds    map[string]string // policy name -> what its verdicts are bound to
}

// binding is what p's verdicts under this snapshot are bound to.
func (s *Snapshot) binding(p *Policy) string {
	if s.Config == "" {
		return s.ID + "\x00" + p.Name
	}
	s.bindOnce.Do(func() {
		s.binds = make(map[string]string, len(s.Policies))
		for i := range s.Policies {
			q := &s.Policies[i]
			h := sha256.New()
			fmt.Fprintf(h, "%s\x00%s\x00", s.Config, q.Name)
			if q.Cosign != nil {
				s.bindSigners(h, q.Cosign)
			}
			for _, a := range q.Attestations {
				fmt.Fprintf(h, "attestation:%s;", a.Name)
				s.bindSigners(h, &a.Signers)
			}
			if q.Notation != nil {
				for _, n := range append(append([]string(nil), q.Notation.Roots...), q.Notation.TSA...) {
					if c, ok := s.Keys.Cert(n); ok {
						fmt.Fprintf(h, "cert:%s=%s;", n, c.Fingerprint)
					}
				}
				// Any of them may be named by a signature.
				for _, n := range pluginNames(s.Plugins) {
					pl := s.Plugins[n]
					fmt.Fprintf(h, "plugin:%s=%s,%v,%v,%q,%q;", n, pl.Path, pl.Timeout, pl.CacheTTL, pl.Env, pl.Certs)
				}
			}
			s.binds[q.Name] = hex.EncodeToString(h.Sum(nil)[:12])
		}
	})
	return s.binds[p.Name]
}

// bindSigners writes the versions of the keys and trust roots req trusts.
func (s *Snapshot) bindSigners(h io.Writer, req *CosignRequirement) {
	for _, n := range req.Keys {
		for _, k := range s.Keys.Versions(n) {
			fmt.Fprintf(h, "key:%s@%s=%s;", n, k.Version, k.Fingerprint)
		}
	}
	// The trust roots' content, which a refresh may change, and whether
	// they are stale.
	if tr := s.TrustRoots[req.TlogRoot]; tr != nil {
		fmt.Fprintf(h, "tlog_root:%s=%s%s;", tr.Name, tr.Digest, s.staleMark(tr.Name))
	}
	for _, n := range req.Identities {
		if sg := s.Signers[n]; sg != nil {
			fmt.Fprintf(h, "identity:%s=%s@%s%s;", n, sg.Root.Name, sg.Root.Digest, s.staleMark(sg.Root.Name))
		}
	}
}

func (s *Snapshot) staleMark(root string) string {
	if _, ok := s.stale[root]; ok {
		return "!stale"
	}
	return ""
}

// bindings lists every binding of the snapshot.
func (s *Snapshot) bindings() map[string]bool {
	out := make(map[string]bool, len(s.Policies))
	for i := range s.Policies {
		out[s.binding(&s.Policies[i])] = true
	}
	return out
}

// Request asks about one image.
type Request struct {
	Image     name.Digest // repository and the digest that will run
	Namespace string      // the pod's Kubernetes namespace, if known
	// Platform is the digest of the manifest that runs: when Image is an
	// index, the one of its manifests whose layers the container's root
	// filesystem is built on; Image's own digest for a plain manifest; ""
	// when not known (then only the index's signatures can count).
	Platform string
	// Credentials the pod brings for reading the image's registry (its
	// pull secrets); nil for the node's alone. A verdict made with one is
	// kept apart, by its Scope: see credentialScope.
	Credentials registry.PodCredentials
}

// credentialScope is what req's verdict is kept apart by: the pod's
// credential for the image's registry, "" for the node's. A verdict is
// about the image's signatures, and sharing an allow across pods would
// not trust anything more; but a denial made without a credential (the
// registry's 401) must not refuse a pod that has one, and a verification
// made with a pod's secret is that pod's (and its secret's) alone.
func (req Request) credentialScope() string {
	if req.Credentials == nil {
		return ""
	}
	return req.Credentials.Scope(req.Image.Context())
}

// Options tune the engine.
type Options struct {
	// VerifyTimeout bounds one verification, however long callers wait.
	VerifyTimeout time.Duration
	AllowTTL      time.Duration // how long an allow verdict is reused
	DenyTTL       time.Duration // how long a deny verdict is reused: short, so a fixed image is picked up
	MaxCached     int
	// MaxSignatures caps the signature or attestation objects one listing
	// (a .sig or .att tag's layers, the referrers to fetch) may make a
	// verification fetch: past it the image is denied (registry_error).
	MaxSignatures int
	// Observe, if set, is called once per verification actually run (not for
	// cache hits), and once per renewal (Verdict.Renewed), with its verdict.
	Observe func(*Verdict)
	// Now is the clock every time decision is made by: a key's or trust
	// root's end, how long a verdict is reused, an attestation's max_age, a
	// cached CRL's freshness. time.Now when nil; tests pass a fake one.
	Now func() time.Time
}

// Engine decides. It is safe for concurrent use.
type Engine struct {
	snap     atomic.Pointer[Snapshot]
	cosign   *cosignVerifier
	notation *notationVerifier
	opts     Options
	cache    *cache

	// Verifications counts verifications actually run (not cache hits), for
	// tests and metrics; Renewals, expired verdicts renewed (see renew).
	Verifications atomic.Int64
	Renewals      atomic.Int64
	inflight      atomic.Int64
}

// Registry is the registry access both verifiers need; registry.Client
// provides it.
type Registry interface {
	RemoteOptions
	Repositories
}

// NewEngine builds an engine over a first snapshot.
func NewEngine(snap *Snapshot, reg Registry, opts Options) *Engine {
	// Unset options take the config's defaults, written once in config.
	if opts.VerifyTimeout <= 0 {
		opts.VerifyTimeout = config.DefaultVerifyTimeout
	}
	if opts.AllowTTL <= 0 {
		opts.AllowTTL = config.DefaultAllowTTL
	}
	if opts.DenyTTL <= 0 {
		opts.DenyTTL = config.DefaultDenyTTL
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = config.DefaultMaxEntries
	}
	if opts.MaxSignatures <= 0 {
		opts.MaxSignatures = config.DefaultMaxSignatures
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{cosign: &cosignVerifier{Registry: reg}, notation: &notationVerifier{Registry: reg, Listing: reg, now: opts.Now, plugins: newPluginManager(opts.Now)}, opts: opts, cache: newCache(opts.MaxCached)}
	e.snap.Store(snap)
	return e
}

// Swap installs a new snapshot. Verdicts made under the old one are reused
// only where the new one binds them the same way: same config, and the same
// versions of the keys and certificates their policy trusts.
func (e *Engine) Swap(snap *Snapshot) {
	old := e.snap.Swap(snap)
	if old != nil && old.ID == snap.ID {
		return
	}
	e.retain(snap)
}

func (e *Engine) retain(snap *Snapshot) {
	keep := snap.bindings()
	e.cache.retain(func(key string) bool {
		b, _, _ := strings.Cut(key, "\x01")
		return keep[b]
	})
}

// Snapshot returns the snapshot in force.
func (e *Engine) Snapshot() *Snapshot { return e.live(e.opts.Now()) }

// live is the snapshot in force at now: when a key in it has stopped being
// trusted (a grace period ended, or its KMS has not been synced within
// max_staleness), or a trust root has (not vouched for by its TUF
// repository within its max_staleness), it is dropped here, on the
// decision path, without waiting for a sync or refresh that may never come
// while the KMS or the mirror is unreachable.
func (e *Engine) live(now time.Time) *Snapshot {
	for {
		s := e.snap.Load()
		if exp := s.expires(); exp.IsZero() || now.Before(exp) {
			return s
		}
		p := s.pruned(now)
		if e.snap.CompareAndSwap(s, p) {
			e.retain(p)
			return p
		}
	}
}

// expires is when the first of the snapshot's keys or trust roots still
// trusted stops being trusted; zero for never. Worked out once: the
// decision path asks every time.
func (s *Snapshot) expires() time.Time {
	s.expOnce.Do(func() {
		if s.Keys != nil {
			s.exp = s.Keys.Expires()
		}
		s.eachRoot(func(tr *TrustRoot) {
			if _, ok := s.stale[tr.Name]; !ok && !tr.NotAfter.IsZero() && (s.exp.IsZero() || tr.NotAfter.Before(s.exp)) {
				s.exp = tr.NotAfter
			}
		})
	})
	return s.exp
}

// eachRoot calls f for every trust root the snapshot uses.
func (s *Snapshot) eachRoot(f func(*TrustRoot)) {
	for _, tr := range s.TrustRoots {
		if tr != nil {
			f(tr)
		}
	}
	for _, sg := range s.Signers {
		if sg != nil && sg.Root != nil {
			f(sg.Root)
		}
	}
}

// pruned is the snapshot without the keys and trust roots no longer
// trusted at now.
func (s *Snapshot) pruned(now time.Time) *Snapshot {
	p := s.with(s.Keys, s.Signers, s.TrustRoots, now)
	if s.Keys != nil {
		p.Keys = s.Keys.Prune(now)
	}
	p.ID = s.derivedID(p)
	return p
}

// with is a copy of s with other keys and trust roots, its stale roots
// judged at now, and s's ID.
func (s *Snapshot) with(keys *keystore.Store, signers map[string]*Signer, roots map[string]*TrustRoot, now time.Time) *Snapshot {
	p := &Snapshot{ID: s.ID, Policies: s.Policies, Keys: keys, Signers: signers, TrustRoots: roots, Config: s.Config, Plugins: s.Plugins}
	p.eachRoot(func(tr *TrustRoot) {
		if why := tr.Stale(now); why != "" {
			if p.stale == nil {
				p.stale = map[string]string{}
			}
			p.stale[tr.Name] = why
		}
	})
	return p
}

// derivedID identifies p, made from s: s's ID when it trusts the same.
func (s *Snapshot) derivedID(p *Snapshot) string {
	fp := func(x *Snapshot) string {
		out := ""
		if x.Keys != nil {
			out = x.Keys.Fingerprint()
		}
		for _, n := range slices.Sorted(maps.Keys(x.stale)) {
			out += "|stale:" + n
		}
		return out
	}
	if fp(p) == fp(s) {
		return s.ID
	}
	sum := sha256.Sum256([]byte(s.ID + "|" + fp(p)))
	return hex.EncodeToString(sum[:8])
}

// WithKeys is the snapshot with keys renewed (the same versions, trusted
// for longer); it keeps the snapshot's ID, so no verdict is dropped.
func (s *Snapshot) WithKeys(keys *keystore.Store) *Snapshot {
	p := s.with(keys, s.Signers, s.TrustRoots, time.Time{})
	p.stale = s.stale
	return p
}

// WithRoots is the snapshot with trust roots renewed: the same content, a
// TUF update having vouched for it again, so trusted until a later time.
// A root whose content differs is not taken (a reload puts new content in
// force). A root that was stale and no longer is at now gives a new ID, so
// verdicts made while it was stale are not reused; otherwise the ID and the
// verdicts stay.
func (s *Snapshot) WithRoots(renewed []*TrustRoot, now time.Time) *Snapshot {
	roots := maps.Clone(s.TrustRoots)
	signers := maps.Clone(s.Signers)
	for _, tr := range renewed {
		if old := roots[tr.Name]; old != nil && old.Digest == tr.Digest {
			roots[tr.Name] = tr
		}
		for n, sg := range signers {
			if sg.Root.Name == tr.Name && sg.Root.Digest == tr.Digest {
				c := *sg
				c.Root = tr
				signers[n] = &c
			}
		}
	}
	p := s.with(s.Keys, signers, roots, now)
	p.ID = s.derivedID(p)
	return p
}

// Decide answers req. It returns by ctx's deadline at the latest: a
// verification still running then goes on in the background and fills the
// cache, and the caller gets a pending denial (or, under an audit policy, an
// allow) saying so.
func (e *Engine) Decide(ctx context.Context, req Request) *Verdict {
	// Took measures elapsed time for logs and metrics, not trust: it stays
	// on the wall clock (time.Since) whatever clock decisions are made by.
	start := time.Now()
	now := e.opts.Now()
	snap := e.live(now)
	repo, err := CanonicalRepo(req.Image.Context())
	base := Verdict{Image: repo, Digest: req.Image.DigestStr(), Snapshot: snap.ID}
	if req.Platform != base.Digest {
		base.Platform = req.Platform
	}
	if err != nil {
		// Denied under every policy: matched by none of the scopes written
		// for its registry, it would otherwise fall to a laxer one.
		v := base
		v.Image = req.Image.Context().Name()
		v.Cause = CauseBadName
		v.Reason = err.Error() + "; denied whatever the policies say"
		v.Took = time.Since(start)
		return &v
	}

	p := snap.Policies.Match(repo, req.Namespace)
	if p == nil {
		v := base
		v.Cause = CauseNoPolicy
		v.Reason = fmt.Sprintf("no policy matches %s, and unmatched images are denied", repo)
		v.Took = time.Since(start)
		return &v
	}
	base.Policy, base.Mode = p.Name, p.Mode
	if p.Mode == Allow {
		v := base
		v.Allowed = true
		v.Cause = CauseAllowedByPolicy
		v.Reason = fmt.Sprintf("policy %q allows %s without verification", p.Name, repo)
		v.Took = time.Since(start)
		return &v
	}
	if p.Mode == DenyMode {
		v := base
		v.Cause = CauseDeniedByPolicy
		v.Reason = fmt.Sprintf("policy %q denies %s without verification (mode \"deny\")", p.Name, repo)
		if p.Reason != "" {
			v.Reason = fmt.Sprintf("policy %q denies %s: %s", p.Name, repo, p.Reason)
		}
		v.Took = time.Since(start)
		return &v
	}

	key := snap.binding(p) + "\x01" + req.Image.String() + "\x01" + req.Platform
	if scope := req.credentialScope(); scope != "" {
		key += "\x01" + scope
	}
	if v, ok := e.cache.get(key, now); ok {
		out := *v
		out.Cached = true
		out.Took = time.Since(start)
		return &out
	}
	c, leader := e.cache.join(key)
	if leader {
		if r, ok := e.cache.renewable(key, now); ok {
			go e.renew(c, key, snap, p, req, base, r)
		} else {
			go e.run(c, key, snap, p, req, base)
		}
	}
	select {
	case <-c.done:
		out := *c.v
		out.Took = time.Since(start)
		return &out
	case <-ctx.Done():
		v := base
		v.Pending = true
		v.Cause = CausePending
		v.Reason = fmt.Sprintf("verification of %s is still in progress (%v); retry shortly", req.Image, ctx.Err())
		v.Allowed = p.Mode == Audit
		v.Took = time.Since(start)
		return &v
	}
}

// Probe checks that the decision path answers: the snapshot is loaded and
// the verdict cache is not wedged. It makes no registry request.
func (e *Engine) Probe(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if e.snap.Load() != nil {
			e.cache.get("\x00probe", e.opts.Now())
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the decision path did not answer: %w", ctx.Err())
	}
}

// InFlight is how many verifications are running now, renewals included.
func (e *Engine) InFlight() int64 { return e.inflight.Load() }

// DecideAnyNamespace answers whether img may run in some namespace: for a
// pull, or a verification ahead of any container, when the pod is not known
// yet. It tries the policies that ignore namespaces, then each namespace a
// matching policy is limited to, and allows if any would. CreateContainer
// still decides for the pod's own namespace.
//
// platform is the manifest of img that will run, as far as it is known
// (see Request.Platform): the verdict is then the one a creation reuses.
func (e *Engine) DecideAnyNamespace(ctx context.Context, img name.Digest, platform string) *Verdict {
	repo, _ := CanonicalRepo(img.Context()) // a bad name: Decide denies it
	namespaces := []string{""}
	seen := map[string]bool{"": true}
	for _, p := range e.live(e.opts.Now()).Policies {
		for _, s := range p.Scopes {
			if !s.Matches(repo) {
				continue
			}
			for _, ns := range p.Namespaces {
				if !seen[ns] {
					seen[ns] = true
					namespaces = append(namespaces, ns)
				}
			}
		}
	}
	var first *Verdict
	for _, ns := range namespaces {
		v := e.Decide(ctx, Request{Image: img, Namespace: ns, Platform: platform})
		if v.Allowed {
			return v
		}
		if first == nil {
			first = v
		}
	}
	return first
}

// run performs one verification, detached from any caller's deadline.
func (e *Engine) run(c *call, key string, snap *Snapshot, p *Policy, req Request, base Verdict) {
	e.Verifications.Add(1)
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	start := time.Now() // for Took only
	ctx, cancel := context.WithTimeout(registry.WithAnswers(registry.WithPodCredentials(context.Background(), req.Credentials)), e.opts.VerifyTimeout)
	defer cancel()
	ctx, ev := withEvidence(ctx)
	v := base
	o, signed := e.checkManifests(ctx, snap, p, req.Image, req.Platform)
	v.Manifest = signed
	v.Verified, v.Cause, v.Reason, v.Cosign, v.Notation, v.Attestations = o.cause == CauseVerified, o.cause, o.reason, o.cosign, o.notation, o.attestations
	v.Answered = (o.cause == CauseRegistryError || o.cause == CauseRateLimited) && !o.silent
	v.Allowed = v.Verified || p.Mode == Audit
	if !v.Verified && p.Mode == Audit {
		v.Reason = "audit: would deny: " + v.Reason
	}
	now := e.opts.Now()
	ttl := e.opts.DenyTTL
	if v.Verified {
		ttl = e.opts.AllowTTL
		// An attestation's max_age may run out sooner.
		if !o.until.IsZero() {
			ttl = min(ttl, max(o.until.Sub(now), time.Millisecond))
		}
	}
	v.Took = time.Since(start)
	kept := &v
	var r *renewal
	if v.Verified {
		kept = v.compact()
		if seen := ev.renewable(); seen != nil {
			r = &renewal{seen: seen, until: o.until, verifiedAt: now}
		}
	}
	e.cache.finish(key, c, &v, kept, now.Add(ttl), now, r)
	if e.opts.Observe != nil {
		e.opts.Observe(&v)
	}
}

// outcome is one verification's result before the policy's mode applies.
type outcome struct {
	cause        Cause
	reason       string
	cosign       *CosignResult
	notation     *NotationResult
	attestations []*AttestationResult
	until        time.Time // when a verified outcome stops being true; zero for never
	silent       bool      // a read got no answer from the registry (part.silent)
}

// part is one signature kind's result.
type part struct {
	cause  Cause
	reason string
	// silent: a read the registry gave no HTTP answer to (unread).
	silent bool
}

func (e *Engine) check(ctx context.Context, snap *Snapshot, p *Policy, img name.Digest) outcome {
	// The config loader refuses such policies; a policy built any other way
	// is denied under rather than assumed.
	if errs := p.Validate(); len(errs) > 0 {
		why := strings.TrimPrefix(strings.TrimPrefix(errs[0].Error(), "."), ": ")
		return outcome{cause: CauseMisconfigured, reason: fmt.Sprintf("policy %q is invalid: %s", p.Name, why)}
	}
	// The signatures and the attestations share one listing of referrers.
	ctx = withLookups(ctx, p.Notation != nil && (p.Cosign != nil || len(p.Attestations) > 0), e.opts.MaxSignatures)
	var (
		a            part
		attestations []*AttestationResult
		until        time.Time
		attested     = make(chan struct{})
	)
	if len(p.Attestations) > 0 {
		// Independent of the signatures: read them at the same time.
		go func() { defer close(attested); a, attestations, until = e.checkAttestations(ctx, snap, p, img) }()
	} else {
		close(attested)
	}
	var o outcome
	if p.Cosign != nil || p.Notation != nil {
		o = e.checkSignatures(ctx, snap, p, img)
	}
	<-attested
	if len(p.Attestations) == 0 {
		return o
	}
	o.attestations, o.until, o.silent = attestations, until, o.silent || a.silent
	switch {
	case p.Cosign == nil && p.Notation == nil:
		o.cause, o.reason = a.cause, fmt.Sprintf("policy %q: %s", p.Name, a.reason)
	case o.cause == CauseVerified:
		o.cause, o.reason = a.cause, o.reason+"; "+a.reason
	default:
		o.cause, o.reason = worse(o.cause, a.cause), o.reason+"; "+a.reason
	}
	return o
}

// checkSignatures judges the policy's signature kinds, as it combines them.
func (e *Engine) checkSignatures(ctx context.Context, snap *Snapshot, p *Policy, img name.Digest) outcome {
	var (
		o    outcome
		c, n part
	)
	checkNotation := func() {
		// Certificates expire and are revoked (OCSP, CRL, a plugin's
		// answer): a notation verdict is verified again in full, never renewed.
		noteUnrenewable(ctx)
		res, err := e.notation.Verify(ctx, img, p.Notation, snap.Keys, snap.Plugins)
		switch {
		case errors.Is(err, ErrInvalidPolicy):
			n = part{cause: CauseMisconfigured, reason: "notation: " + strings.TrimPrefix(err.Error(), ".")}
		case err != nil:
			n = e.unread(ctx, img, "notation: cannot read signatures: ", err)
		default:
			o.notation, n = res, part{cause: res.cause(), reason: "notation: " + res.Reason}
		}
	}
	switch {
	case p.Cosign != nil && p.Notation != nil:
		// Independent lookups: do them at once.
		done := make(chan struct{})
		go func() { defer close(done); checkNotation() }()
		c, o.cosign = e.checkCosign(ctx, snap, p, img)
		<-done
	case p.Cosign != nil:
		c, o.cosign = e.checkCosign(ctx, snap, p, img)
	default:
		checkNotation()
	}

	o.silent = c.silent || n.silent
	switch {
	case p.Cosign != nil && p.Notation != nil:
		o.cause = combine(p.Signatures, c.cause, n.cause)
		o.reason = fmt.Sprintf("policy %q (%s of cosign and notation): %s; %s", p.Name, orBoth(p.Signatures), c.reason, n.reason)
		if c.cause == n.cause && (c.cause == CauseRegistryError || c.cause == CauseRateLimited) {
			// One unreachable registry, said once.
			o.reason = fmt.Sprintf("policy %q (%s of cosign and notation): %s (notation too)", p.Name, orBoth(p.Signatures), c.reason)
		}
	case p.Cosign != nil:
		o.cause, o.reason = c.cause, fmt.Sprintf("policy %q: %s", p.Name, c.reason)
	default:
		o.cause, o.reason = n.cause, fmt.Sprintf("policy %q: %s", p.Name, n.reason)
	}
	return o
}

// combine is the cause of two kinds' results: verified as the policy
// combines them; otherwise the failing kinds' most telling cause (not
// knowing beats a wrong config, which beats untrusted, which beats none).
func combine(how Combine, a, b Cause) Cause {
	ok := a == CauseVerified && b == CauseVerified
	if how == Either {
		ok = a == CauseVerified || b == CauseVerified
	}
	if ok {
		return CauseVerified
	}
	return worse(a, b)
}

// causeRank orders every cause for worse(): the higher, the more telling.
// Every Cause constant must be listed (TestEveryCauseIsRanked parses
// verdict.go to check), and only CauseVerified ranks as an allow: a cause
// missing from here ranks above all of them, so it denies.
var causeRank = map[Cause]int{
	CauseVerified: 0, // the only cause that lets a combination pass
	// Verdict-level causes: never a verification's own outcome, so if one
	// reaches a combination it is a mistake, and denies.
	CauseAllowedByPolicy:   1,
	CauseNoSignatures:      2,
	CauseUntrusted:         3,
	CauseNoAttestation:     4,
	CauseAttestationFailed: 5,
	CauseMisconfigured:     6,
	CauseRegistryError:     7,
	CauseRateLimited:       8, // a registry error that says why, and when to try again
	CausePending:           9,
	CauseNoPolicy:          10,
	CauseImageUnknown:      11,
	CauseRootFSMismatch:    12,
	CauseImageMismatch:     13,
	CauseBadName:           14,
	CauseDeniedByPolicy:    15,
}

// worse is the more telling of two causes: not knowing beats a wrong
// config, which beats a failed attestation, which beats a missing one. It
// returns CauseVerified only when both are: a cause it does not know ranks
// above every known one.
func worse(a, b Cause) Cause {
	ra, oka := causeRank[a]
	rb, okb := causeRank[b]
	switch {
	case !oka:
		return a
	case !okb:
		return b
	case rb > ra:
		return b
	}
	return a
}

func orBoth(c Combine) Combine {
	if c == "" {
		return Both
	}
	return c
}

func (e *Engine) checkCosign(ctx context.Context, snap *Snapshot, p *Policy, img name.Digest) (part, *CosignResult) {
	by, bad := snap.resolveSigners(p.Cosign)
	if bad != "" {
		return part{cause: CauseMisconfigured, reason: "cosign: " + bad}, nil
	}
	res, err := e.cosign.Verify(ctx, img, p.Cosign, by.keys, by.signers, by.keyLog)
	if err != nil {
		return e.unread(ctx, img, "cosign: cannot read signatures: ", err), nil
	}
	return part{cause: res.cause(), reason: "cosign: " + res.Reason + by.note}, res
}
