// Package azurekms reads signing keys from Azure Key Vault.
package azurekms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	sigazure "github.com/sigstore/sigstore/pkg/signature/kms/azure"

	signkms "github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/internal/tlsconf"
)

// Scheme is the reference scheme, as sigstore and cosign spell it:
// azurekms://VAULT.vault.azure.net/KEY[/VERSION].
const Scheme = "azurekms"

func init() {
	signkms.Register(Scheme, signkms.Factory{Section: "azure", Check: check, New: New})
}

var refRE = regexp.MustCompile(`^azurekms://([^/]+)/([^/]+)(?:/([a-z0-9]*))?$`)

func check(uri, pin string) (signkms.Ref, error) {
	m := refRE.FindStringSubmatch(uri)
	if err := sigazure.ValidReference(uri); err != nil || m == nil {
		return signkms.Ref{}, errors.New("want azurekms://VAULT.vault.azure.net/KEY[/VERSION]")
	}
	pin, err := signkms.MergePin(m[3], pin)
	return signkms.Ref{Pin: pin}, err
}

// Provider reads Azure Key Vault.
type Provider struct {
	cred    azcore.TokenCredential
	options *azkeys.ClientOptions
}

// New builds a provider. Credentials come from the environment
// (AZURE_CLIENT_ID and a secret or certificate), workload identity, or the
// managed identity, in that order. Unlike azidentity's default chain it
// never runs the az or azd programs.
func New(_ context.Context, s signkms.Settings) (signkms.Provider, error) {
	opts := &azkeys.ClientOptions{}
	if s.CAFile != "" {
		tc, err := tlsconf.FromCAFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		opts.Transport = &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	}
	var creds []azcore.TokenCredential
	if c, err := azidentity.NewEnvironmentCredential(nil); err == nil {
		creds = append(creds, c)
	}
	if c, err := azidentity.NewWorkloadIdentityCredential(nil); err == nil {
		creds = append(creds, c)
	}
	if c, err := azidentity.NewManagedIdentityCredential(nil); err == nil {
		creds = append(creds, c)
	}
	cred, err := azidentity.NewChainedTokenCredential(creds, nil)
	if err != nil {
		return nil, fmt.Errorf("azure credentials: %w", err)
	}
	return NewWithCredential(cred, opts), nil
}

// NewWithCredential builds a provider with a given credential and client
// options (a custom transport, for instance).
func NewWithCredential(cred azcore.TokenCredential, opts *azkeys.ClientOptions) *Provider {
	if opts == nil {
		opts = &azkeys.ClientOptions{}
	}
	// Our own deadline and backoff govern; the SDK's retries would outlast them.
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	return &Provider{cred: cred, options: opts}
}

// Versions lists the key's versions. The current one is the newest, as
// Key Vault serves it for the key without a version; it is found from the
// listing because Key Vault refuses to serve a disabled key at all, and a
// disabled current version must read as revoked, not as an error.
func (p *Provider) Versions(ctx context.Context, ref signkms.Ref, known []string) ([]signkms.Version, error) {
	m := refRE.FindStringSubmatch(ref.URI)
	if m == nil {
		return nil, fmt.Errorf("malformed reference %s", ref.URI)
	}
	vaultURL, name := "https://"+m[1]+"/", m[2]
	c, err := azkeys.NewClient(vaultURL, p.cred, p.options)
	if err != nil {
		return nil, err
	}
	var out []signkms.Version
	pager := c.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if notFound(err) {
			return signkms.MarkMissing(nil, known), nil
		}
		if err != nil {
			return nil, fmt.Errorf("key vault %s key %s: listing versions: %w", vaultURL, name, err)
		}
		for _, kp := range page.Value {
			if kp.KID == nil {
				continue
			}
			v := signkms.Version{ID: kp.KID.Version(), State: state(kp.Attributes, time.Now())}
			if kp.Attributes != nil && kp.Attributes.Created != nil {
				v.Created = *kp.Attributes.Created
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return signkms.MarkMissing(nil, known), nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	out[len(out)-1].Current = true
	for i := range out {
		v := &out[i]
		if !v.State.Usable() {
			continue
		}
		// Key Vault listed the version: one it will not serve, or whose key
		// signgate cannot take, is judged alone (its Problem); only a
		// request that got no answer fails the key.
		r, err := c.GetKey(ctx, name, v.ID, nil)
		if err != nil && !answered(err) {
			return nil, fmt.Errorf("key vault %s key %s version %s: %w", vaultURL, name, v.ID, err)
		}
		if err != nil {
			v.Problem = err.Error()
			continue
		}
		if v.Public, err = publicKey(r.Key); err != nil {
			v.Problem = err.Error()
		}
	}
	return signkms.MarkMissing(out, known), nil
}

// answered: Key Vault refused the request (access denied, a key it will
// not serve), as opposed to no answer, throttling or a server fault, which
// the next sync retries.
func answered(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode != http.StatusTooManyRequests && re.StatusCode < 500
}

func notFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// state: a disabled, expired or not-yet-valid version cannot be used.
func state(a *azkeys.KeyAttributes, now time.Time) signkms.State {
	if a == nil || a.Enabled == nil || !*a.Enabled {
		return signkms.Disabled
	}
	if (a.Expires != nil && now.After(*a.Expires)) || (a.NotBefore != nil && now.Before(*a.NotBefore)) {
		return signkms.Disabled
	}
	return signkms.Enabled
}

// publicKey converts Key Vault's JSON web key.
func publicKey(k *azkeys.JSONWebKey) (any, error) {
	if k == nil || k.Kty == nil {
		return nil, errors.New("no key material")
	}
	switch *k.Kty {
	case azkeys.KeyTypeEC, azkeys.KeyTypeECHSM:
		var curve elliptic.Curve
		switch {
		case k.Crv == nil:
			return nil, errors.New("EC key without a curve")
		case *k.Crv == azkeys.CurveNameP256:
			curve = elliptic.P256()
		case *k.Crv == azkeys.CurveNameP384:
			curve = elliptic.P384()
		case *k.Crv == azkeys.CurveNameP521:
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("unsupported curve %s", *k.Crv)
		}
		// The uncompressed point 0x04||X||Y, each coordinate at the curve's
		// size; parsing checks that the point is on the curve.
		size := (curve.Params().BitSize + 7) / 8
		if len(k.X) > size || len(k.Y) > size {
			return nil, errors.New("EC coordinates longer than the curve's")
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(k.X):1+size], k.X)
		copy(point[1+2*size-len(k.Y):], k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err)
		}
		return pub, nil
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		if len(k.N) == 0 || len(k.E) == 0 || len(k.E) > 4 {
			return nil, errors.New("malformed RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(new(big.Int).SetBytes(k.E).Int64())}, nil
	}
	return nil, fmt.Errorf("key type %s cannot verify signatures", *k.Kty)
}
