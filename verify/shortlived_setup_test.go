package verify_test

import (
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// shortLivedNotary is a notary env whose store trusts "service", the root
// of a short-lived PKI whose 3-day certificate was issued ten days before
// the clock's now (issued), and "tsa", a running TSA closed at cleanup.
func shortLivedNotary(t *testing.T) (n *notaryEnv, clock *testClock, issued time.Time, pki *sigtest.PKI, tsa *sigtest.TSA) {
	t.Helper()
	n = newNotaryEnv(t)
	clock = newTestClock()
	issued = clock.Now().Add(-10 * 24 * time.Hour)
	pki, err := sigtest.NewShortLivedPKIAt("short-lived service", issued, 3*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tsa, err = sigtest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tsa.Close)
	var certs []*keystore.Cert
	for _, c := range []struct{ name, kind, pem string }{{"service", keystore.CertCA, pki.RootPEM()}, {"tsa", keystore.CertTSA, tsa.RootPEM()}} {
		cert, err := keystore.ParseCertsPEM(c.name, "inline", c.kind, []byte(c.pem), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	if n.store, err = n.store.WithCerts(certs...); err != nil {
		t.Fatal(err)
	}
	return n, clock, issued, pki, tsa
}

// shortLivedEngine is an engine on n's store and registry, by clock, with
// one enforcing policy "short" over every image requiring req.
func shortLivedEngine(n *notaryEnv, clock *testClock, req *verify.NotationRequirement) *verify.Engine {
	sc, _ := verify.ParseScope("**")
	return verify.NewEngine(&verify.Snapshot{ID: "s", Keys: n.store, Policies: verify.Policies{{Name: "short", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: req}}},
		n.reg, verify.Options{Now: clock.Now})
}
