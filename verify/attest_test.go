package verify_test

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

const (
	builderID = "https://github.com/org/.github/workflows/build.yml@refs/heads/main"
	appRepo   = "https://github.com/org/app"
)

// provenance is an SLSA v1 predicate as GitHub's generator writes it.
func provenance(repo, builder string, finished time.Time) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"ref": "refs/heads/main", "repository": repo, "path": ".github/workflows/build.yml"}},
		},
		"runDetails": map[string]any{
			"builder":  map[string]any{"id": builder},
			"metadata": map[string]any{"finishedOn": finished.UTC().Format(time.RFC3339)},
		},
	}
}

// vulnScan is a cosign vuln predicate holding a Trivy-like result.
func vulnScan(finished time.Time, severities ...string) map[string]any {
	var vulns []any
	for _, s := range severities {
		vulns = append(vulns, map[string]any{"VulnerabilityID": "CVE-2026-0001", "Severity": s})
	}
	return map[string]any{
		"scanner":  map[string]any{"uri": "pkg:github/aquasecurity/trivy", "result": map[string]any{"Results": []any{map[string]any{"Target": "app", "Vulnerabilities": vulns}}}},
		"metadata": map[string]any{"scanStartedOn": finished.Add(-time.Minute).UTC().Format(time.RFC3339), "scanFinishedOn": finished.UTC().Format(time.RFC3339)},
	}
}

func attestation(t *testing.T, name, typ string, keys []string, conds ...*verify.Condition) *verify.AttestationRequirement {
	t.Helper()
	pt, err := verify.ParsePredicateType(typ)
	if err != nil {
		t.Fatal(err)
	}
	return &verify.AttestationRequirement{Name: name, PredicateType: pt, Signers: verify.CosignRequirement{Keys: keys, Threshold: 1}, Conditions: conds}
}

func cel(t *testing.T, expr string) *verify.Condition {
	t.Helper()
	c, err := verify.CompileCondition(expr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// attestEngine: a policy requiring a signature by k1 (when sign) and the
// attestations.
func (e *env) attestEngine(t *testing.T, sign bool, atts ...*verify.AttestationRequirement) *verify.Engine {
	t.Helper()
	ps := policy(t, verify.Enforce, "any", false, "k1")
	if !sign {
		ps[0].Cosign = nil
	}
	ps[0].Attestations = atts
	if errs := ps[0].Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return e.engine(ps, registry.Config{}, verify.Options{})
}

func (e *env) attest(img name.Digest, key, typ string, predicate any, bundle bool) {
	e.t.Helper()
	e.attestFor(img, img, key, typ, predicate, bundle)
}

// attestFor stores on target an attestation whose statement is about subject.
func (e *env) attestFor(target, subject name.Digest, key, typ string, predicate any, bundle bool) {
	e.t.Helper()
	pt, err := verify.ParsePredicateType(typ)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := sigtest.Statement(subject, pt, predicate)
	if err != nil {
		e.t.Fatal(err)
	}
	if bundle {
		err = e.signers[key].AttestBundle(target, st, pt)
	} else {
		err = e.signers[key].AttestLegacy(target, st)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestAttestationPolicy(t *testing.T) {
	t.Parallel()
	for _, bundle := range []bool{false, true} {
		format := map[bool]string{false: "att tag", true: "bundle"}[bundle]
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, true, 3)
			slsa := func() *verify.AttestationRequirement {
				return attestation(t, "provenance", "slsaprovenance1", []string{"k2"},
					verify.BuildersCondition([]string{builderID}),
					verify.SourceRepositoriesCondition([]string{appRepo}),
					cel(t, `predicate.buildDefinition.externalParameters.workflow.ref.startsWith("refs/heads/")`))
			}
			eng := e.attestEngine(t, true, slsa())

			good := e.image("app")
			if err := e.signers["k1"].SignLegacy(good); err != nil {
				t.Fatal(err)
			}
			e.attest(good, "k2", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), bundle)
			v := decide(t, eng, good)
			want(t, v, true, "provenance: verified by k2")
			if len(v.Attestations) != 1 || !v.Attestations[0].Satisfied || v.Attestations[0].Attestations[0].Format != map[bool]string{false: verify.FormatLegacy, true: verify.FormatBundle}[bundle] {
				t.Fatalf("attestations in the verdict: %+v", v.Attestations)
			}

			// Built from a fork: the source repository condition fails, and
			// the reason names it.
			fork := e.image("fork")
			_ = e.signers["k1"].SignLegacy(fork)
			e.attest(fork, "k2", "slsaprovenance1", provenance("https://github.com/evil/app", builderID, time.Now()), bundle)
			v = decide(t, eng, fork)
			want(t, v, false, `source_repositories = ["https://github.com/org/app"]: built from "https://github.com/evil/app"`)
			if v.Cause != verify.CauseAttestationFailed || len(v.Attestations[0].Attestations[0].Failed) != 1 {
				t.Fatalf("cause %s, attestations %+v", v.Cause, v.Attestations)
			}

			// Another builder, and a failed CEL condition, each named.
			other := e.image("other")
			_ = e.signers["k1"].SignLegacy(other)
			p := provenance(appRepo, "https://ci.example.com/builder", time.Now())
			p["buildDefinition"].(map[string]any)["externalParameters"].(map[string]any)["workflow"].(map[string]any)["ref"] = "refs/tags/v1"
			e.attest(other, "k2", "slsaprovenance1", p, bundle)
			v = decide(t, eng, other)
			want(t, v, false, `built by "https://ci.example.com/builder"`)
			want(t, v, false, `startsWith("refs/heads/"): false`)

			// Signed by a key the requirement does not list.
			stranger := e.image("stranger")
			_ = e.signers["k1"].SignLegacy(stranger)
			e.attest(stranger, "k3", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), bundle)
			v = decide(t, eng, stranger)
			want(t, v, false, "not by k2")
			if v.Cause != verify.CauseAttestationFailed {
				t.Fatalf("cause %s", v.Cause)
			}

			// No provenance at all.
			bare := e.image("bare")
			_ = e.signers["k1"].SignLegacy(bare)
			v = decide(t, eng, bare)
			want(t, v, false, "provenance: no attestation of type https://slsa.dev/provenance/v1 found")
			if v.Cause != verify.CauseNoAttestation {
				t.Fatalf("cause %s", v.Cause)
			}

			// A good provenance, but no signature: both are required.
			unsigned := e.image("unsigned")
			e.attest(unsigned, "k2", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), bundle)
			v = decide(t, eng, unsigned)
			want(t, v, false, "no cosign signatures found")
			want(t, v, false, "provenance: verified by k2")

			// The good image's provenance copied onto another image: its
			// statement names the good digest, so it attests nothing here.
			replay := e.image("replay")
			_ = e.signers["k1"].SignLegacy(replay)
			e.attestFor(replay, good, "k2", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), bundle)
			v = decide(t, eng, replay)
			want(t, v, false, "attests another image")
		})
	}
}

// An SBOM required to exist, and a vulnerability scan younger than a day
// with no critical findings, on an image with no signature requirement.
func TestAttestationConditionsOverScans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	noCritical := `predicate.scanner.result.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))`
	scan := attestation(t, "scan", "vuln", []string{"k1"}, verify.MaxAgeCondition(24*time.Hour), cel(t, noCritical))
	scan.MaxAge = 24 * time.Hour
	eng := e.attestEngine(t, false, attestation(t, "sbom", "cyclonedx", []string{"k1"}), scan)

	img := e.image("clean")
	e.attest(img, "k1", "cyclonedx", map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5"}, true)
	e.attest(img, "k1", "vuln", vulnScan(time.Now().Add(-time.Hour), "LOW", "HIGH"), false)
	want(t, decide(t, eng, img), true, "scan: verified by k1")

	critical := e.image("critical")
	e.attest(critical, "k1", "cyclonedx", map[string]any{"bomFormat": "CycloneDX"}, true)
	e.attest(critical, "k1", "vuln", vulnScan(time.Now(), "LOW", "CRITICAL"), true)
	want(t, decide(t, eng, critical), false, noCritical+": false")

	stale := e.image("stale")
	e.attest(stale, "k1", "cyclonedx", map[string]any{"bomFormat": "CycloneDX"}, true)
	e.attest(stale, "k1", "vuln", vulnScan(time.Now().Add(-50*time.Hour)), true)
	want(t, decide(t, eng, stale), false, "max_age = 24h0m0s: made 50h")

	nosbom := e.image("nosbom")
	e.attest(nosbom, "k1", "vuln", vulnScan(time.Now()), true)
	want(t, decide(t, eng, nosbom), false, "sbom: no attestation of type https://cyclonedx.org/bom found")
}

// A verdict resting on a scan lasts only as long as the scan is young
// enough, however long allow verdicts are cached.
func TestAttestationMaxAgeBoundsTheCachedVerdict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	scan := attestation(t, "scan", "vuln", []string{"k1"}, verify.MaxAgeCondition(time.Hour))
	scan.MaxAge = time.Hour
	ps := attestationOnly(t, scan)
	clock := newTestClock()
	eng := e.engine(ps, registry.Config{}, verify.Options{AllowTTL: time.Hour, Now: clock.Now})

	img := e.image("app")
	// The vuln predicate's times have a resolution of a second.
	finished := clock.Now().Add(-time.Hour + 3*time.Second).Truncate(time.Second)
	e.attest(img, "k1", "vuln", vulnScan(finished), true)
	want(t, decide(t, eng, img), true, "scan: verified by k1")
	clock.Set(finished.Add(time.Hour - time.Millisecond))
	if v := decide(t, eng, img); !v.Allowed || !v.Cached {
		t.Fatalf("the allow was not reused while the scan was young enough: %+v", v)
	}
	clock.Set(finished.Add(time.Hour + time.Millisecond))
	v := decide(t, eng, img)
	want(t, v, false, "max_age = 1h0m0s")
	if v.Cached || eng.Verifications.Load() != 2 {
		t.Fatalf("the allow verdict outlived the scan's max_age: cached=%v verifications=%d", v.Cached, eng.Verifications.Load())
	}
}

func TestKeylessAttestation(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	img := k.image("app")
	st, err := sigtest.Statement(img, verify.PredicateSLSA1, provenance(appRepo, builderID, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.sigstore.AttestKeyless(img, verify.PredicateSLSA1, release, ghIssuer, sigtest.KeylessOptions{Statement: st}); err != nil {
		t.Fatal(err)
	}
	s, err := verify.NewSigner(releaseWorkflow(), k.root)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := verify.ParseScope("**")
	req := &verify.AttestationRequirement{Name: "provenance", PredicateType: verify.PredicateSLSA1,
		Signers: verify.CosignRequirement{Identities: []string{"release"}, Threshold: 1}, Conditions: []*verify.Condition{verify.BuildersCondition([]string{builderID})}}
	p := verify.Policy{Name: "keyless", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Attestations: []*verify.AttestationRequirement{req}}
	c, _ := registry.New(registry.Config{})
	eng := verify.NewEngine(&verify.Snapshot{ID: "k", Policies: verify.Policies{p}, Keys: k.store, Signers: map[string]*verify.Signer{"release": s}}, c, verify.Options{})
	v := decide(t, eng, img)
	want(t, v, true, "provenance: verified by release")
	if a := v.Attestations[0].Attestations[0]; a.Subject != release || a.SignedAt == "" {
		t.Fatalf("keyless attestation: %+v", a)
	}

	// The same statement signed by another workflow is not the release's.
	other := k.image("other")
	st, _ = sigtest.Statement(other, verify.PredicateSLSA1, provenance(appRepo, builderID, time.Now()))
	if err := k.sigstore.AttestKeyless(other, verify.PredicateSLSA1, "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main", ghIssuer, sigtest.KeylessOptions{Statement: st}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, other), false, "not by release")
}

func TestAuditShowsTheFailedCondition(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	ps := policy(t, verify.Audit, "any", false, "k1")
	ps[0].Cosign = nil
	ps[0].Attestations = []*verify.AttestationRequirement{attestation(t, "provenance", "slsaprovenance1", []string{"k1"}, verify.BuildersCondition([]string{builderID}))}
	eng := e.engine(ps, registry.Config{}, verify.Options{})
	img := e.image("app")
	e.attest(img, "k1", "slsaprovenance1", provenance(appRepo, "https://other/builder", time.Now()), true)
	v := decide(t, eng, img)
	want(t, v, true, `audit: would deny: policy "test": attestations: provenance: requires any of k1; referrer sha256:`)
	want(t, v, true, `builders = ["`+builderID+`"]: built by "https://other/builder"`)
}

func TestConditionsAreCheckedAtLoad(t *testing.T) {
	t.Parallel()
	for expr, problem := range map[string]string{
		`predicate.x ==`:         "Syntax error",
		`predicateType + 1`:      "no matching overload",
		`predicateType`:          "yields string, but a condition must yield a bool",
		`size(subject)`:          "yields int",
		`undefined.field == "x"`: "undeclared reference",
		``:                       "empty expression",
		`predicate.a.all(x, predicate.b.all(y, predicate.c.all(z, x == y && y == z)))`: "over the limit",
	} {
		_, err := verify.CompileCondition(expr)
		var ce *verify.ConditionError
		if !errors.As(err, &ce) || !errors.Is(err, verify.ErrCondition) || !strings.Contains(err.Error(), problem) || ce.Expr != expr {
			t.Errorf("CompileCondition(%q) = %v; want a ConditionError saying %q", expr, err, problem)
		}
	}
	// Two loops nested are within the limit.
	if _, err := verify.CompileCondition(`predicate.a.all(x, predicate.b.exists(y, x == y))`); err != nil {
		t.Fatal(err)
	}
}

// The signature and the attestations of one verification share one
// listing of the image's referrers.
func TestOneReferrersListingPerVerification(t *testing.T) {
	t.Parallel()
	reg := ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var listings atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/") {
			listings.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	e := newEnv(t, true, 1)
	e.host = strings.TrimPrefix(srv.URL, "http://")
	eng := e.attestEngine(t, true, attestation(t, "provenance", "slsaprovenance1", []string{"k1"}), attestation(t, "sbom", "cyclonedx", []string{"k1"}))
	img := e.image("app")
	if err := e.signers["k1"].SignBundle(img); err != nil {
		t.Fatal(err)
	}
	e.attest(img, "k1", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), true)
	e.attest(img, "k1", "cyclonedx", map[string]any{"bomFormat": "CycloneDX"}, true)
	listings.Store(0)
	want(t, decide(t, eng, img), true, "sbom: verified by k1")
	if n := listings.Load(); n != 1 {
		t.Fatalf("%d referrers listings for one verification, want 1", n)
	}
}

// A cached allow keeps what decisions, logs and annotations read, not each
// signature's detail: the first answer has it, later ones say who verified.
func TestCachedAllowIsCompact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	eng := e.attestEngine(t, true, attestation(t, "sbom", "cyclonedx", []string{"k1"}))
	img := e.image("app")
	if err := e.signers["k1"].SignBundle(img); err != nil {
		t.Fatal(err)
	}
	e.attest(img, "k1", "cyclonedx", map[string]any{"bomFormat": "CycloneDX"}, true)
	first := decide(t, eng, img)
	if !first.Allowed || len(first.Cosign.Signatures) != 1 || len(first.Attestations[0].Attestations) != 1 {
		t.Fatalf("first answer: %+v", first)
	}
	again := decide(t, eng, img)
	if !again.Cached || again.Cosign.Signatures != nil || again.Attestations[0].Attestations != nil {
		t.Fatalf("the cached allow keeps every signature: %+v", again)
	}
	if by := strings.Join(again.VerifiedBy(), "; "); by != "cosign: k1; attestation sbom: k1" || again.Reason != first.Reason {
		t.Fatalf("the cached allow lost who verified it: %q, %q", by, again.Reason)
	}
}
