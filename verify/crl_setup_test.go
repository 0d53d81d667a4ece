package verify_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/signgate/signgate/internal/testkit/sigtest"
)

// crlPKI is a Notary Project PKI whose certificates name a CRL responder
// (closed at cleanup) that answers with the root revoked once revoked is
// set.
func crlPKI(t *testing.T) (pki *sigtest.PKI, revoked *atomic.Bool) {
	t.Helper()
	revoked = new(atomic.Bool)
	crlSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, err := pki.CRL(revoked.Load())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	}))
	t.Cleanup(crlSrv.Close)
	pki, err := sigtest.NewPKIWithCRL("crl signer", crlSrv.URL+"/root.crl")
	if err != nil {
		t.Fatal(err)
	}
	return pki, revoked
}
