// Package vaultkms reads signing keys from HashiCorp Vault's (or OpenBao's)
// transit secrets engine.
package vaultkms

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
	sigvault "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"

	signkms "github.com/signgate/signgate/keystore/kms"
)

// Scheme is the reference scheme, as sigstore and cosign spell it:
// hashivault://KEYNAME. OpenBao, which keeps Vault's transit API, is
// openbao://KEYNAME, as in sigstore.
const (
	Scheme        = "hashivault"
	OpenBaoScheme = "openbao"
)

func init() {
	signkms.Register(Scheme, signkms.Factory{Section: "vault", Check: check, New: New})
	signkms.Register(OpenBaoScheme, signkms.Factory{Section: "vault", Check: check, New: New})
}

// keyName is the transit key a reference names.
func keyName(uri string) string {
	_, name, _ := strings.Cut(uri, "://")
	return name
}

func check(uri, pin string) (signkms.Ref, error) {
	if err := sigvault.ValidReference(uri); err != nil {
		return signkms.Ref{}, errors.New("want hashivault://KEYNAME (or openbao://KEYNAME)")
	}
	pin, err := signkms.NumberedPin("Vault transit", "", pin)
	return signkms.Ref{Pin: pin}, err
}

// Provider reads one Vault server.
type Provider struct {
	client  *vault.Client
	transit string
}

// New builds a provider. The address comes from Settings.Endpoint or
// VAULT_ADDR; the token from Settings.TokenFile, VAULT_TOKEN or
// ~/.vault-token, as the vault CLI finds it.
func New(_ context.Context, s signkms.Settings) (signkms.Provider, error) {
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault: %w", cfg.Error)
	}
	if s.Endpoint != "" {
		cfg.Address = s.Endpoint
	}
	if s.CAFile != "" {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: s.CAFile}); err != nil {
			return nil, fmt.Errorf("vault ca_file: %w", err)
		}
	}
	// No retries of its own: the sync loop backs off, and the deadline is ours.
	cfg.MaxRetries = 0
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	token := os.Getenv("VAULT_TOKEN")
	tokenFile := s.TokenFile
	if tokenFile == "" && token == "" {
		if home, err := os.UserHomeDir(); err == nil {
			tokenFile = home + "/.vault-token"
		}
	}
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		switch {
		case err == nil:
			token = strings.TrimSpace(string(data))
		case s.TokenFile != "":
			return nil, fmt.Errorf("vault token_file: %w", err)
		}
	}
	c.SetToken(token)
	transit := strings.Trim(s.TransitPath, "/")
	if transit == "" {
		transit = "transit"
	}
	return &Provider{client: c, transit: transit}, nil
}

type transitKey struct {
	Type                 string                     `json:"type"`
	LatestVersion        int                        `json:"latest_version"`
	MinDecryptionVersion int                        `json:"min_decryption_version"`
	MinAvailableVersion  int                        `json:"min_available_version"`
	Keys                 map[string]json.RawMessage `json:"keys"`
}

type transitVersion struct {
	PublicKey    string    `json:"public_key"`
	CreationTime time.Time `json:"creation_time"`
}

// Versions reads /<transit>/keys/<name>. Versions below
// min_decryption_version are refused by Vault for verification, so they
// count as disabled; versions trimmed below min_available_version, or a
// deleted key, as deleted.
func (p *Provider) Versions(ctx context.Context, ref signkms.Ref, known []string) ([]signkms.Version, error) {
	name := keyName(ref.URI)
	secret, err := p.client.Logical().ReadWithContext(ctx, p.transit+"/keys/"+name)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", p.client.Address(), err)
	}
	if secret == nil || secret.Data == nil {
		return signkms.MarkMissing(nil, known), nil
	}
	raw, _ := json.Marshal(secret.Data)
	var tk transitKey
	if err := json.Unmarshal(raw, &tk); err != nil {
		return nil, fmt.Errorf("vault key %s: unexpected response: %w", name, err)
	}
	var out []signkms.Version
	for id, rv := range tk.Keys {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil, fmt.Errorf("vault key %s: version %q is not a number", name, id)
		}
		// Vault answered: a version it lists that cannot be taken is judged
		// alone (its Problem), so the states of the others still apply.
		var tv transitVersion
		terr := json.Unmarshal(rv, &tv)
		v := signkms.Version{ID: id, State: signkms.Enabled, Created: tv.CreationTime, Current: n == tk.LatestVersion}
		switch {
		case n < tk.MinAvailableVersion:
			v.State = signkms.Deleted
		case n < tk.MinDecryptionVersion:
			v.State = signkms.Disabled
		case terr != nil || tv.PublicKey == "":
			v.Problem = fmt.Sprintf("a key of type %q has no public key to verify with", tk.Type)
		default:
			if v.Public, err = publicKey(tk.Type, tv.PublicKey); err != nil {
				v.Problem = err.Error()
			}
		}
		out = append(out, v)
	}
	out = signkms.MarkMissing(out, known)
	signkms.SortNumbered(out)
	return out, nil
}

// publicKey decodes transit's public_key: PEM for ECDSA and RSA keys, base64
// of the raw key for Ed25519.
func publicKey(typ, s string) (any, error) {
	if typ == "ed25519" {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("malformed ed25519 public key")
		}
		return ed25519.PublicKey(raw), nil
	}
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("public key is not PEM")
	}
	return x509.ParsePKIXPublicKey(b.Bytes)
}
