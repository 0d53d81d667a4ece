package verify

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-go/verifier"
)

// Revocation checks (OCSP, CRL) run inside a verification, in the
// background, bounded by these timeouts, well within verify_timeout.
const (
	ocspTimeout = 2 * time.Second
	crlTimeout  = 3 * time.Second
	maxCRLs     = 256
)

// revocationOptions builds notation-go's revocation validators once per
// engine: fetched CRLs are cached in memory until their NextUpdate, so a
// responder is asked once, not once per image; now is the engine's clock.
func revocationOptions(now func() time.Time) (verifier.VerifierOptions, error) {
	fetcher, err := crl.NewHTTPFetcher(&http.Client{Timeout: crlTimeout})
	if err != nil {
		return verifier.VerifierOptions{}, err
	}
	fetcher.Cache = &crlCache{m: map[string]*crl.Bundle{}, now: now}
	fetcher.DiscardCacheError = true
	codeSigning, err := revocation.NewWithOptions(revocation.Options{
		OCSPHTTPClient:   &http.Client{Timeout: ocspTimeout},
		CRLFetcher:       fetcher,
		CertChainPurpose: purpose.CodeSigning,
	})
	if err != nil {
		return verifier.VerifierOptions{}, err
	}
	timestamping, err := revocation.NewWithOptions(revocation.Options{
		OCSPHTTPClient:   &http.Client{Timeout: ocspTimeout},
		CRLFetcher:       fetcher,
		CertChainPurpose: purpose.Timestamping,
	})
	if err != nil {
		return verifier.VerifierOptions{}, err
	}
	return verifier.VerifierOptions{RevocationCodeSigningValidator: codeSigning, RevocationTimestampingValidator: timestamping}, nil
}

// crlCache keeps CRL bundles in memory until their NextUpdate.
type crlCache struct {
	mu  sync.Mutex
	m   map[string]*crl.Bundle
	now func() time.Time
}

func (c *crlCache) Get(_ context.Context, url string) (*crl.Bundle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[url]
	if !ok || b.BaseCRL == nil || (!b.BaseCRL.NextUpdate.IsZero() && c.now().After(b.BaseCRL.NextUpdate)) {
		return nil, crl.ErrCacheMiss
	}
	return b, nil
}

func (c *crlCache) Set(_ context.Context, url string, b *crl.Bundle) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCRLs {
		c.m = map[string]*crl.Bundle{}
	}
	c.m[url] = b
	return nil
}
