// Package awskms reads signing keys from AWS KMS.
//
// AWS KMS keeps no versions of an asymmetric key, so rotation means pointing
// an alias at a new key: a reference by alias follows it, and the key the
// alias named before is the previous version. A reference by key ID or ARN
// names one key for good.
package awskms

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	sigaws "github.com/sigstore/sigstore/pkg/signature/kms/aws"

	signkms "github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/internal/tlsconf"
)

// Scheme is the reference scheme, as sigstore and cosign spell it.
const Scheme = "awskms"

func init() {
	signkms.Register(Scheme, signkms.Factory{Section: "aws", Check: check, New: New})
}

func check(uri, pin string) (signkms.Ref, error) {
	if err := sigaws.ValidReference(uri); err != nil {
		return signkms.Ref{}, err
	}
	if pin != "" {
		return signkms.Ref{}, errors.New("AWS KMS has no versions of asymmetric keys: name a key ID to pin one key, or an alias to follow rotations")
	}
	return signkms.Ref{}, nil
}

// Provider reads AWS KMS with the SDK's default credential chain
// (environment, shared files, instance and container metadata).
type Provider struct {
	client   *kms.Client
	endpoint string // from the settings; overrides one in a reference
}

// New builds a provider. Settings.Endpoint (or AWS_ENDPOINT_URL_KMS, which
// the SDK reads itself) points it at a private endpoint or an emulator.
func New(ctx context.Context, s signkms.Settings) (signkms.Provider, error) {
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	if s.CAFile != "" {
		tc, err := tlsconf.FromCAFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, config.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	return &Provider{client: kms.NewFromConfig(cfg), endpoint: s.Endpoint}, nil
}

// Versions describes the key the reference names now, and each key it named
// before.
func (p *Provider) Versions(ctx context.Context, ref signkms.Ref, known []string) ([]signkms.Version, error) {
	host, id, _, err := sigaws.ParseReference(ref.URI)
	if err != nil {
		return nil, err
	}
	endpoint := p.endpoint
	if endpoint == "" && host != "" {
		endpoint = "https://" + host
	}
	var optFns []func(*kms.Options)
	if endpoint != "" {
		optFns = append(optFns, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint) })
	}
	var out []signkms.Version
	cur, err := p.describe(ctx, id, optFns)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	if cur != nil {
		cur.Current = true
		seen[cur.ID] = true
		out = append(out, *cur)
	}
	for _, k := range known {
		if seen[k] {
			continue
		}
		seen[k] = true
		v, err := p.describe(ctx, k, optFns)
		if answered(err) {
			// AWS refused to describe a key trusted before: not trusted
			// until it says what state the key is in.
			v, err = &signkms.Version{ID: k, State: signkms.Enabled, Problem: err.Error()}, nil
		}
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = &signkms.Version{ID: k, State: signkms.Deleted}
		}
		out = append(out, *v)
	}
	return out, nil
}

// describe returns nil for a key or alias that does not exist.
func (p *Provider) describe(ctx context.Context, id string, optFns []func(*kms.Options)) (*signkms.Version, error) {
	md, err := p.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}, optFns...)
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", id, err)
	}
	m := md.KeyMetadata
	v := &signkms.Version{ID: aws.ToString(m.KeyId), State: state(m.KeyState), Created: aws.ToTime(m.CreationDate)}
	if m.KeyUsage != types.KeyUsageTypeSignVerify {
		// Judged alone: the listing of the others still applies.
		v.Problem = fmt.Sprintf("key %s is for %s, not SIGN_VERIFY", v.ID, m.KeyUsage)
		return v, nil
	}
	if !v.State.Usable() {
		return v, nil
	}
	pk, err := p.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: m.KeyId}, optFns...)
	var disabled *types.DisabledException
	var invalid *types.KMSInvalidStateException
	switch {
	case errors.As(err, &nf):
		v.State = signkms.Deleted
		return v, nil
	case errors.As(err, &disabled) || errors.As(err, &invalid):
		// Disabled between the two calls.
		v.State = signkms.Disabled
		return v, nil
	case answered(err):
		v.Problem = fmt.Sprintf("public key of %s: %v", v.ID, err)
		return v, nil
	case err != nil:
		return nil, fmt.Errorf("public key of %s: %w", v.ID, err)
	}
	if v.Public, err = x509.ParsePKIXPublicKey(pk.PublicKey); err != nil {
		v.Problem = fmt.Sprintf("public key of %s (%s): %v", v.ID, pk.KeySpec, err)
	}
	return v, nil
}

// answered: AWS refused the request for the key itself (access denied, an
// invalid key), as opposed to a request that got no answer (network,
// deadline) or a throttled or failed one, which the next sync retries.
func answered(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorFault() == smithy.FaultServer {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "LimitExceededException", "KMSInternalException", "DependencyTimeoutException",
		"RequestLimitExceeded", "ServiceUnavailable", "InternalFailure":
		return false
	}
	return true
}

func state(s types.KeyState) signkms.State {
	switch s {
	case types.KeyStateEnabled:
		return signkms.Enabled
	case types.KeyStatePendingDeletion, types.KeyStatePendingReplicaDeletion:
		return signkms.PendingDeletion
	}
	// Creating, Updating, PendingImport, Unavailable: not usable now.
	return signkms.Disabled
}
