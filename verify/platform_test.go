package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// platforms is a two-platform index as CI pushes it: the manifest the
// container runs (amd64 here) and another platform's.
type platforms struct {
	index, runs, other name.Digest
}

func (e *env) platforms(repo string) platforms {
	e.t.Helper()
	idx, m, err := sigtest.PushPlatforms(e.host+"/"+repo+":v1", "amd64", "arm64")
	if err != nil {
		e.t.Fatal(err)
	}
	return platforms{index: idx, runs: m["amd64"], other: m["arm64"]}
}

func decideRuns(t *testing.T, eng *verify.Engine, img name.Digest, platform string) *verify.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return eng.Decide(ctx, verify.Request{Image: img, Platform: platform})
}

func signedManifestPolicy(t *testing.T, on verify.SignedManifest) verify.Policies {
	t.Helper()
	ps := policy(t, verify.Enforce, "any", false, "k1")
	ps[0].SignedManifest = on
	if errs := ps[0].Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return ps
}

// Whose signatures count, setting by setting: the index's under index and
// either, the platform manifest's that runs under platform and either,
// another platform's never. The verdict names the manifest that verified.
func TestSignedManifest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	for _, c := range []struct {
		signed string // which manifest k1 signs
		on     verify.SignedManifest
		allows bool
	}{
		{"index", verify.SignedIndex, true},
		{"index", verify.SignedEither, true},
		{"index", "", true},
		{"index", verify.SignedPlatform, false},
		{"runs", verify.SignedPlatform, true},
		{"runs", verify.SignedEither, true},
		{"runs", "", true},
		{"runs", verify.SignedIndex, false},
		{"other", verify.SignedPlatform, false},
		{"other", verify.SignedEither, false},
		{"other", verify.SignedIndex, false},
		{"none", verify.SignedEither, false},
	} {
		on := string(c.on)
		if on == "" {
			on = "default"
		}
		t.Run(c.signed+"/"+on, func(t *testing.T) {
			p := e.platforms("plat/" + c.signed + "-" + on)
			signed := map[string]name.Digest{"index": p.index, "runs": p.runs, "other": p.other}[c.signed]
			if c.signed != "none" {
				if err := e.signers["k1"].SignBundle(signed); err != nil {
					t.Fatal(err)
				}
			}
			eng := e.engine(signedManifestPolicy(t, c.on), registry.Config{}, verify.Options{})
			v := decideRuns(t, eng, p.index, p.runs.DigestStr())
			if v.Allowed != c.allows {
				t.Fatalf("allowed = %v, want %v: %s", v.Allowed, c.allows, v.Reason)
			}
			if v.Digest != p.index.DigestStr() || v.Platform != p.runs.DigestStr() {
				t.Errorf("verdict names digest %s, platform %s; want the index and the manifest that runs", v.Digest, v.Platform)
			}
			switch {
			case c.allows && v.Manifest != signed.DigestStr():
				t.Errorf("verified on %q, want %s", v.Manifest, signed.DigestStr())
			case !c.allows && v.Manifest != "":
				t.Errorf("denied, yet verified on %q", v.Manifest)
			case !c.allows && c.on != verify.SignedIndex && !strings.Contains(v.Reason, p.runs.DigestStr()):
				t.Errorf("the denial does not name the platform manifest that runs: %s", v.Reason)
			case !c.allows && v.Cause != verify.CauseNoSignatures:
				t.Errorf("cause %s, want no_signatures: %s", v.Cause, v.Reason)
			}
		})
	}
}

// A verdict for one platform manifest is never reused for another: the
// same index, run as the other platform, is decided again.
func TestSignedManifestPerPlatformVerdicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, 1)
	p := e.platforms("plat/cache")
	if err := e.signers["k1"].SignLegacy(p.runs); err != nil {
		t.Fatal(err)
	}
	eng := e.engine(signedManifestPolicy(t, verify.SignedPlatform), registry.Config{}, verify.Options{})
	want(t, decideRuns(t, eng, p.index, p.runs.DigestStr()), true, "verified by k1")
	v := decideRuns(t, eng, p.index, p.other.DigestStr())
	want(t, v, false, "no cosign signatures found")
	if v.Cached {
		t.Fatal("the verdict for one platform manifest answered for another")
	}
	// The index alone (no platform known, as at a pull): only the index's
	// signatures could count, and under platform none do.
	want(t, decideRuns(t, eng, p.index, ""), false, "which one runs is not known")
	eng = e.engine(signedManifestPolicy(t, verify.SignedEither), registry.Config{}, verify.Options{})
	want(t, decideRuns(t, eng, p.index, ""), false, "no cosign signatures found")
}

// A plain manifest is its own platform manifest: its signature counts
// under every setting.
func TestSignedManifestPlainImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("plat/plain")
	if err := e.signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	for _, on := range []verify.SignedManifest{verify.SignedIndex, verify.SignedPlatform, verify.SignedEither} {
		eng := e.engine(signedManifestPolicy(t, on), registry.Config{}, verify.Options{})
		v := decideRuns(t, eng, img, img.DigestStr())
		want(t, v, true, "verified by k1")
		if v.Manifest != img.DigestStr() || v.Platform != "" {
			t.Errorf("%s: manifest %q, platform %q", on, v.Manifest, v.Platform)
		}
	}
}

// Attestations count on the manifest whose signatures do: a signature on
// the index and an attestation on the platform manifest meet the policy on
// neither.
func TestSignedManifestAttestations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	pred := provenance("https://github.com/org/app", "https://github.com/org/app/.github/workflows/build.yml@refs/heads/main", time.Now())
	eng := func(on verify.SignedManifest) *verify.Engine {
		ps := signedManifestPolicy(t, on)
		ps[0].Attestations = []*verify.AttestationRequirement{attestation(t, "provenance", "slsaprovenance1", []string{"k1"})}
		return e.engine(ps, registry.Config{}, verify.Options{})
	}
	p := e.platforms("plat/attested")
	if err := e.signers["k1"].SignBundle(p.runs); err != nil {
		t.Fatal(err)
	}
	e.attest(p.runs, "k1", "slsaprovenance1", pred, true)
	for _, on := range []verify.SignedManifest{verify.SignedPlatform, verify.SignedEither} {
		v := decideRuns(t, eng(on), p.index, p.runs.DigestStr())
		want(t, v, true, "verified by k1")
		if v.Manifest != p.runs.DigestStr() || len(v.Attestations) != 1 || !v.Attestations[0].Satisfied {
			t.Errorf("%s: manifest %q, attestations %+v", on, v.Manifest, v.Attestations)
		}
	}
	want(t, decideRuns(t, eng(verify.SignedIndex), p.index, p.runs.DigestStr()), false, "no cosign signatures found")

	split := e.platforms("plat/split")
	if err := e.signers["k1"].SignBundle(split.index); err != nil {
		t.Fatal(err)
	}
	e.attest(split.runs, "k1", "slsaprovenance1", pred, true)
	v := decideRuns(t, eng(verify.SignedEither), split.index, split.runs.DigestStr())
	if v.Allowed || v.Cause != verify.CauseNoAttestation {
		t.Fatalf("requirements met half on the index, half on the platform manifest: allowed=%v cause=%s: %s", v.Allowed, v.Cause, v.Reason)
	}
}

// Notation signatures on the platform manifest count as cosign's do.
func TestSignedManifestNotation(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	p := n.platforms("plat/notary")
	n.sign(p.runs, "a", sigtest.JWS)
	for _, c := range []struct {
		on     verify.SignedManifest
		allows bool
	}{{verify.SignedPlatform, true}, {verify.SignedEither, true}, {verify.SignedIndex, false}} {
		sc, _ := verify.ParseScope("**")
		pol := verify.Policy{Name: "test", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", nil, "a"), SignedManifest: c.on}
		eng := verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{pol}, Keys: n.store}, n.reg, verify.Options{})
		v := decideRuns(t, eng, p.index, p.runs.DigestStr())
		if v.Allowed != c.allows {
			t.Errorf("%s: allowed = %v: %s", c.on, v.Allowed, v.Reason)
		}
	}
}

func TestSignedManifestValidate(t *testing.T) {
	ps := policy(t, verify.Enforce, "any", false, "k1")
	ps[0].SignedManifest = "manifest"
	errs := ps[0].Validate()
	if len(errs) != 1 || !errors.Is(errs[0], verify.ErrInvalidPolicy) || !strings.Contains(errs[0].Error(), `signed_manifest = "manifest"`) {
		t.Fatalf("errors %v; want one naming signed_manifest", errs)
	}
}
