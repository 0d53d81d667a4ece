// Package gcpkms reads signing keys from Google Cloud KMS.
package gcpkms

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gkms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	siggcp "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	signkms "github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/internal/tlsconf"
)

// Scheme is the reference scheme, as sigstore and cosign spell it:
// gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/versions/N].
const Scheme = "gcpkms"

func init() {
	signkms.Register(Scheme, signkms.Factory{Section: "gcp", Check: check, New: New})
}

// sigstore's grammar, to split off the version.
var refRE = regexp.MustCompile(`^gcpkms://(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+)(?:/(?:cryptoKeyVersions|versions)/([^/]+))?$`)

func check(uri, pin string) (signkms.Ref, error) {
	if err := siggcp.ValidReference(uri); err != nil {
		return signkms.Ref{}, errors.New("want gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/versions/N]")
	}
	m := refRE.FindStringSubmatch(uri)
	if m == nil {
		return signkms.Ref{}, errors.New("want gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/versions/N]")
	}
	pin, err := signkms.NumberedPin("Cloud KMS", m[2], pin)
	return signkms.Ref{Pin: pin}, err
}

// Provider reads Cloud KMS with Application Default Credentials.
type Provider struct {
	client *gkms.KeyManagementClient
}

// New builds a provider. Settings.Endpoint points it at a private endpoint
// or an emulator; Insecure (emulators only) speaks plaintext without
// credentials.
func New(ctx context.Context, s signkms.Settings) (signkms.Provider, error) {
	var opts []option.ClientOption
	if s.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(s.Endpoint))
	}
	switch {
	case s.Insecure:
		opts = append(opts, option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	case s.CAFile != "":
		tc, err := tlsconf.FromCAFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewTLS(tc))))
	}
	c, err := gkms.NewKeyManagementClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloud KMS client: %w", err)
	}
	// No retries of the client's own (up to 60s on UNAVAILABLE): the sync's
	// deadline and backoff govern.
	*c.CallOptions = gkms.KeyManagementCallOptions{}
	return &Provider{client: c}, nil
}

// Versions lists the key's versions. The current one is the newest enabled
// version, as cosign picks it for signing.
func (p *Provider) Versions(ctx context.Context, ref signkms.Ref, known []string) ([]signkms.Version, error) {
	m := refRE.FindStringSubmatch(ref.URI)
	if m == nil {
		return nil, fmt.Errorf("malformed reference %s", ref.URI)
	}
	parent := m[1]
	key, err := p.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: parent})
	if status.Code(err) == codes.NotFound {
		return signkms.MarkMissing(nil, known), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cloud KMS %s: %w", parent, err)
	}
	if key.Purpose != kmspb.CryptoKey_ASYMMETRIC_SIGN {
		return nil, fmt.Errorf("cloud KMS %s is a %s key, not ASYMMETRIC_SIGN", parent, key.Purpose)
	}
	var out []signkms.Version
	it := p.client.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: parent})
	newest := 0
	for {
		kv, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cloud KMS %s: listing versions: %w", parent, err)
		}
		id := kv.Name[strings.LastIndex(kv.Name, "/")+1:]
		v := signkms.Version{ID: id, State: state(kv.State), Created: kv.CreateTime.AsTime()}
		if v.State.Usable() {
			pub, problem, err := p.publicKey(ctx, kv)
			if err != nil {
				return nil, fmt.Errorf("cloud KMS %s version %s: %w", parent, id, err)
			}
			v.Public, v.Problem = pub, problem
			if n, _ := strconv.Atoi(id); n > newest {
				newest = n
			}
		}
		out = append(out, v)
	}
	for i := range out {
		if n, _ := strconv.Atoi(out[i].ID); n == newest && out[i].State.Usable() {
			out[i].Current = true
		}
	}
	out = signkms.MarkMissing(out, known)
	signkms.SortNumbered(out)
	return out, nil
}

// publicKey fetches an enabled version's public key. A version the KMS
// answers about but signgate cannot take (an algorithm it does not
// support, a key it may not read or that does not parse) has a problem,
// judged with that version alone; only a KMS that could not be asked is an
// error, which leaves the whole key as it was.
func (p *Provider) publicKey(ctx context.Context, kv *kmspb.CryptoKeyVersion) (crypto.PublicKey, string, error) {
	if err := supported(kv.Algorithm); err != nil {
		return nil, err.Error(), nil
	}
	pk, err := p.client.GetPublicKey(ctx, &kmspb.GetPublicKeyRequest{Name: kv.Name})
	if err != nil {
		if unreachable(err) {
			return nil, "", fmt.Errorf("public key: %w", err)
		}
		return nil, "public key: " + status.Convert(err).Message() + " (" + status.Code(err).String() + ")", nil
	}
	b, _ := pem.Decode([]byte(pk.Pem))
	if b == nil {
		return nil, "public key is not PEM", nil
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, "public key: " + err.Error(), nil
	}
	return pub, "", nil
}

// unreachable: the call did not get the KMS's answer about the version
// (network, deadline, overload, a server fault), as opposed to an answer
// such as permission denied.
func unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted,
		codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// Close releases the client's connection.
func (p *Provider) Close() error { return p.client.Close() }

func state(s kmspb.CryptoKeyVersion_CryptoKeyVersionState) signkms.State {
	switch s {
	case kmspb.CryptoKeyVersion_ENABLED:
		return signkms.Enabled
	case kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:
		return signkms.PendingDeletion
	case kmspb.CryptoKeyVersion_DESTROYED, kmspb.CryptoKeyVersion_PENDING_EXTERNAL_DESTRUCTION, kmspb.CryptoKeyVersion_EXTERNAL_DESTRUCTION_FAILED:
		return signkms.Deleted
	}
	return signkms.Disabled
}

// supported refuses algorithms whose signatures signgate's verifiers would
// check with the wrong padding or hash (RSA-PSS, SHA-512 variants).
func supported(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) error {
	switch a {
	case kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384,
		kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256, kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_3072_SHA256,
		kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA256:
		return nil
	}
	return fmt.Errorf("algorithm %s is not supported (want EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384 or RSA_SIGN_PKCS1_*_SHA256)", a)
}
