package kmstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// GCP serves Cloud KMS's gRPC API (the KeyManagementService calls signgate
// makes) on loopback, in plaintext, for the real Cloud KMS client.
type GCP struct {
	kmspb.UnimplementedKeyManagementServiceServer
	Endpoint string // host:port

	mu   sync.Mutex
	keys map[string][]*gcpVersion // by key name
	down bool
}

type gcpVersion struct {
	priv    *ecdsa.PrivateKey
	state   kmspb.CryptoKeyVersion_CryptoKeyVersionState
	created time.Time
	alg     kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm // listed; the key stays P-256
	denied  bool                                             // GetPublicKey answers PERMISSION_DENIED
}

// NewGCP starts a server; it stops with the test.
func NewGCP(t testing.TB) *GCP {
	g := &GCP{keys: map[string][]*gcpVersion{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(s, g)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	g.Endpoint = l.Addr().String()
	return g
}

// KeyName is the resource name of a test key.
func KeyName(key string) string {
	return "projects/test/locations/global/keyRings/signgate/cryptoKeys/" + key
}

// CreateKey makes an EC_SIGN_P256_SHA256 key with version 1.
func (g *GCP) CreateKey(t testing.TB, key string) {
	g.mu.Lock()
	g.keys[KeyName(key)] = nil
	g.mu.Unlock()
	g.AddVersion(t, key)
}

// AddVersion adds an enabled version, which becomes the newest: a rotation.
func (g *GCP) AddVersion(t testing.TB, key string) int {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[KeyName(key)] = append(g.keys[KeyName(key)], &gcpVersion{priv: priv, state: kmspb.CryptoKeyVersion_ENABLED, created: time.Now(), alg: kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256})
	return len(g.keys[KeyName(key)])
}

// SetState sets a version's state (DISABLED, DESTROY_SCHEDULED, ...).
func (g *GCP) SetState(key string, version int, s kmspb.CryptoKeyVersion_CryptoKeyVersionState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[KeyName(key)][version-1].state = s
}

// SetAlgorithm sets the algorithm a version is listed with, such as one
// signgate does not support (EC_SIGN_SECP256K1_SHA256).
func (g *GCP) SetAlgorithm(key string, version int, a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[KeyName(key)][version-1].alg = a
}

// DenyPublicKey makes GetPublicKey of a version answer PERMISSION_DENIED.
func (g *GCP) DenyPublicKey(key string, version int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[KeyName(key)][version-1].denied = true
}

// SetDown makes every call fail with UNAVAILABLE.
func (g *GCP) SetDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

// Signer signs with a version's private key.
func (g *GCP) Signer(t testing.TB, key string, version int) signature.Signer {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, err := signature.LoadECDSASignerVerifier(g.keys[KeyName(key)][version-1].priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (g *GCP) lookup(name string) ([]*gcpVersion, error) {
	if g.down {
		return nil, status.Error(codes.Unavailable, "service unavailable")
	}
	vs, ok := g.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found", name)
	}
	return vs, nil
}

func (g *GCP) GetCryptoKey(_ context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.lookup(req.Name); err != nil {
		return nil, err
	}
	return &kmspb.CryptoKey{Name: req.Name, Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN}, nil
}

func (g *GCP) ListCryptoKeyVersions(_ context.Context, req *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	vs, err := g.lookup(req.Parent)
	if err != nil {
		return nil, err
	}
	out := &kmspb.ListCryptoKeyVersionsResponse{TotalSize: int32(len(vs))}
	for i, v := range vs {
		out.CryptoKeyVersions = append(out.CryptoKeyVersions, &kmspb.CryptoKeyVersion{
			Name: fmt.Sprintf("%s/cryptoKeyVersions/%d", req.Parent, i+1), State: v.state,
			Algorithm: v.alg, CreateTime: timestamppb.New(v.created),
		})
	}
	return out, nil
}

func (g *GCP) GetPublicKey(_ context.Context, req *kmspb.GetPublicKeyRequest) (*kmspb.PublicKey, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key, ver, ok := strings.Cut(req.Name, "/cryptoKeyVersions/")
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "not a version name")
	}
	vs, err := g.lookup(key)
	if err != nil {
		return nil, err
	}
	var n int
	if _, err := fmt.Sscan(ver, &n); err != nil || n < 1 || n > len(vs) {
		return nil, status.Errorf(codes.NotFound, "%s not found", req.Name)
	}
	v := vs[n-1]
	if v.state != kmspb.CryptoKeyVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not enabled", req.Name)
	}
	if v.denied {
		return nil, status.Errorf(codes.PermissionDenied, "permission 'cloudkms.cryptoKeyVersions.viewPublicKey' denied on %s", req.Name)
	}
	der, _ := x509.MarshalPKIXPublicKey(v.priv.Public())
	return &kmspb.PublicKey{Name: req.Name, Algorithm: v.alg,
		Pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}
