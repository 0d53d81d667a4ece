package verify

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// causes lists every Cause constant declared in verdict.go, read from the
// source so that a cause added there is enumerated here without anyone
// remembering to.
func causes(t *testing.T) map[string]Cause {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "verdict.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Cause{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Cause" {
				continue
			}
			for i, n := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				out[n.Name] = Cause(lit.Value[1 : len(lit.Value)-1])
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d causes in verdict.go", len(out))
	}
	return out
}

// Combining causes denies on anything not known to allow: only two
// verified outcomes combine to verified, whatever the other cause is, a
// cause added later included (issue 26, item 7).
func TestUnknownCausesDoNotCombineToVerified(t *testing.T) {
	t.Parallel()
	all := causes(t)
	all["a cause from the future"] = Cause("some_future_cause")
	for n, c := range all {
		if c == CauseVerified {
			continue
		}
		for _, got := range []Cause{worse(CauseVerified, c), worse(c, CauseVerified), combine(Both, CauseVerified, c), combine(Both, c, CauseVerified)} {
			if got == CauseVerified {
				t.Errorf("%s (%q) combined with verified gives verified", n, c)
			}
		}
		if got := combine(Either, c, c); got == CauseVerified {
			t.Errorf("%s (%q) twice under either gives verified", n, c)
		}
	}
	if got := combine(Both, CauseVerified, CauseVerified); got != CauseVerified {
		t.Errorf("verified and verified: %q", got)
	}
}

// Every cause has a deliberate rank: adding a Cause constant without
// ranking it in causeRank fails here.
func TestEveryCauseIsRanked(t *testing.T) {
	t.Parallel()
	all := causes(t)
	ranks := map[int]Cause{}
	for n, c := range all {
		r, ok := causeRank[c]
		if !ok {
			t.Errorf("%s (%q) is not ranked in causeRank", n, c)
			continue
		}
		if other, dup := ranks[r]; dup {
			t.Errorf("%q and %q share rank %d", c, other, r)
		}
		ranks[r] = c
	}
	if len(causeRank) != len(all) {
		t.Errorf("causeRank ranks %d causes, verdict.go declares %d", len(causeRank), len(all))
	}
	if causeRank[CauseVerified] != 0 {
		t.Error("verified must rank lowest")
	}
}

// A rate limit is a registry error that says why: it outranks the plain
// one, so a combination with both reports the limit (and its wait), and
// ranks below pending, as every registry failure does.
func TestRateLimitedRanksAboveRegistryError(t *testing.T) {
	t.Parallel()
	if got := worse(CauseRegistryError, CauseRateLimited); got != CauseRateLimited {
		t.Errorf("worse(registry_error, rate_limited) = %q", got)
	}
	if got := worse(CauseRateLimited, CausePending); got != CausePending {
		t.Errorf("worse(rate_limited, pending) = %q", got)
	}
}

// Every cause is deliberately final or not: only the outcomes of checking
// signatures against the trust material (and no policy at all) are final,
// so only they may stop a running container; every registry, rate-limit,
// pending and doubt cause is not (a 429 must not stop a node).
func TestEveryCauseIsClassifiedFinalOrNot(t *testing.T) {
	t.Parallel()
	final := map[Cause]bool{
		CauseNoSignatures: true, CauseUntrusted: true, CauseNoAttestation: true, CauseAttestationFailed: true, CauseNoPolicy: true, CauseDeniedByPolicy: true,
		CauseVerified: false, CauseAllowedByPolicy: false, CauseMisconfigured: false,
		CauseRegistryError: false, CauseRateLimited: false, CausePending: false,
		CauseImageUnknown: false, CauseRootFSMismatch: false, CauseImageMismatch: false, CauseBadName: false,
	}
	for n, c := range causes(t) {
		want, ok := final[c]
		if !ok {
			t.Errorf("%s (%q) is not classified here: decide whether it is final (Cause.Final) and list it", n, c)
			continue
		}
		if c.Final() != want {
			t.Errorf("%s (%q).Final() = %v, want %v", n, c, c.Final(), want)
		}
	}
	if Cause("some_future_cause").Final() {
		t.Error("a cause not listed is final")
	}
}
