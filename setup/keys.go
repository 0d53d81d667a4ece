package setup

import (
	"context"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
)

// PlaceholderFingerprint is the key the Debian package and the DaemonSet
// ship in their first config, whose private half was discarded: nothing can
// sign for it.
const PlaceholderFingerprint = "sha256:2514bbdd80b21798188d7b7d838837d445213e74f9cf709db55de746b52949ec"

// keys reads [keys.NAME]: a static key is parsed now, so a bad key is a
// config error, not a denial at run time; a KMS key's reference is checked
// against the schemes in this build. It returns each static key's
// fingerprint by name.
func (c *Config) keys(p *config.Problems, keys map[string]config.KeySection) map[string]string {
	material := map[string]string{} // key name -> fingerprint
	for _, n := range sortedKeys(keys) {
		k := keys[n]
		if k.KMS != "" {
			if k.PEM != "" || k.Path != "" {
				p.Errorf("keys.%s: give kms, pem or path, only one", n)
				continue
			}
			ref, err := kms.Parse(k.KMS, k.Version)
			if err != nil {
				p.Errorf("keys.%s.kms: %v", n, err)
				continue
			}
			c.KMSKeys = append(c.KMSKeys, keysync.Spec{Name: n, Ref: ref, Grace: p.NonNegative("keys."+n+".grace_period", k.GracePeriod, c.KMS.GracePeriod)})
			continue
		}
		if k.Version != "" || k.GracePeriod != "" {
			p.Errorf("keys.%s: version and grace_period apply only to kms keys", n)
			continue
		}
		sk := keystore.StaticKey{Name: n, PEM: k.PEM, Path: c.Resolve(k.Path)}
		loaded, err := (keystore.Static{sk}).Load(context.Background())
		if err != nil {
			p.Errorf("keys.%s: %v", n, err)
			continue
		}
		material[n] = loaded[0].Fingerprint
		if loaded[0].Fingerprint == PlaceholderFingerprint {
			c.placeholders = append(c.placeholders, n)
		}
		c.Keys = append(c.Keys, sk)
	}
	return material
}

// certs reads [certs.NAME] now: a malformed, non-CA or expired certificate
// is a config error. It returns each certificate's kind and fingerprint by
// name.
func (c *Config) certs(p *config.Problems, certs map[string]config.CertSection) (kinds, material map[string]string) {
	kinds, material = map[string]string{}, map[string]string{}
	for _, n := range sortedKeys(certs) {
		cs := certs[n]
		sc := keystore.StaticCert{Name: n, Kind: config.Or(cs.Kind, config.DefaultCertKind), PEM: cs.PEM, Path: c.Resolve(cs.Path)}
		cert, err := sc.Load(time.Now())
		if err != nil {
			p.Errorf("certs.%s: %v", n, err)
			continue
		}
		material[n] = cert.Fingerprint
		kinds[n] = sc.Kind
		c.Certs = append(c.Certs, sc)
	}
	return kinds, material
}
