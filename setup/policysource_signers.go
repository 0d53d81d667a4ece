package setup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
)

// signersV3 prefixes the fingerprint of the signers alone, with the
// files of every key, certificate and trust root they are read from;
// signersV2 was the same without the trust roots' files.
const (
	signersV3 = "v3:"
	signersV2 = "v2:"
)

// signersID fingerprints what verifies the policy artifact: the
// [policy_source] rule (signatures, cosign, notation) and the local keys,
// certificates, trust roots and identities it may name, with the contents
// of the files they point at. A kept policy verified under another
// fingerprint is set aside: a key replaced because it leaked must not keep
// its policy, nor its serial. Nothing else is in it, so a new
// [policy_source] key, or a changed refresh, sets no policy aside.
func signersID(cc *config.Config, bc *Config) string {
	return fingerprint(signersV3, signersRule(cc), cc, signerFiles(bc))
}

// signersIDV2 is the fingerprint the release before signersID recorded
// (no trust roots' files): a kept policy carrying it for this config was
// verified by these same signers, unless a trust root's file changed since
// (an upgrade keeps it; the next refresh records signersID).
func signersIDV2(cc *config.Config, bc *Config) string {
	return fingerprint(signersV2, signersRule(cc), cc, keyAndCertFiles(bc))
}

func signersRule(cc *config.Config) any {
	s := cc.PolicySource.Section
	return struct {
		Signatures string
		Cosign     *config.CosignSection
		Notation   *config.NotationSection
	}{s.Signatures, s.Cosign, s.Notation}
}

// SignerFiles are the files the source's signers are read from: the
// bootstrap's keys, certificates and trust roots (not those kept from
// TUF, rewritten on every update). watch_config watches these and the
// signers' fingerprint hashes them: one list, so that what reloads and
// what sets a kept policy aside cannot drift apart.
func (s *Source) SignerFiles() []string { return signerFiles(s.Boot) }

// SignersNow fingerprints the signers as their files read now: a key or
// certificate file is read again at each refresh, so one that differs
// from Signers (computed at load) must reload before anything is
// verified, or a policy verified under the new file is kept under the
// old fingerprint.
func (s *Source) SignersNow() string { return signersID(s.Boot.Config, s.Boot) }

func signerFiles(bc *Config) []string {
	files := keyAndCertFiles(bc)
	tuf := map[string]bool{}
	for _, src := range bc.TUF {
		tuf[src.Name] = true
	}
	for _, n := range sortedKeys(bc.TrustRoots) {
		if !tuf[n] && bc.TrustRoots[n].Source != "" {
			files = append(files, bc.TrustRoots[n].Source)
		}
	}
	return files
}

func keyAndCertFiles(bc *Config) []string {
	var files []string
	for _, k := range bc.Keys {
		if k.Path != "" {
			files = append(files, k.Path)
		}
	}
	for _, c := range bc.Certs {
		if c.Path != "" {
			files = append(files, c.Path)
		}
	}
	return files
}

// legacySignersID is the fingerprint signgate recorded before signersID:
// over the whole [policy_source] section of that release, so a kept policy
// carrying it for this config was verified by these same signers (an
// upgrade keeps it; the next refresh records signersID). Its fields and
// their order are that release's and must not change.
func legacySignersID(cc *config.Config, bc *Config) string {
	s := cc.PolicySource.Section
	return fingerprint("", struct {
		Reference    string
		Path         string
		Refresh      string
		MaxStaleness string
		OnStale      string
		MinSerial    int64
		Signatures   string
		Cosign       *config.CosignSection
		Notation     *config.NotationSection
	}{s.Reference, s.Path, s.Refresh, s.MaxStaleness, s.OnStale, s.MinSerial, s.Signatures, s.Cosign, s.Notation}, cc, keyAndCertFiles(bc))
}

func fingerprint(version string, rule any, cc *config.Config, paths []string) string {
	files := map[string]string{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			files[path] = "error: " + err.Error() // differs from any content: deny on doubt
			continue
		}
		sum := sha256.Sum256(b)
		files[path] = hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(struct {
		Rule       any
		Keys       any
		Certs      any
		TrustRoots any
		Identities any
		Files      map[string]string
	}{rule, cc.File.Keys, cc.File.Certs, cc.File.TrustRoots, cc.File.Identities, files})
	if err != nil {
		return "error: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return version + "sha256:" + hex.EncodeToString(sum[:])
}

// signerMaterial lists what may sign for the source: each key (its public
// key), certificate authority (its first certificate) and keyless
// identity, by content, not name. Nil when one cannot be read: unknown.
func signerMaterial(cc *config.Config, bc *Config) []string {
	keys, err := bc.Keys.Load(context.Background())
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range keys {
		out = append(out, "key:"+k.Fingerprint)
	}
	for _, sc := range bc.Certs {
		if sc.Kind == keystore.CertTSA {
			continue // it stamps times and signs no policy: shared, it says nothing
		}
		c, err := sc.Load(time.Now())
		if err != nil {
			return nil
		}
		out = append(out, "cert:"+c.Fingerprint)
	}
	for _, n := range sortedKeys(cc.File.Identities) {
		b, err := json.Marshal(cc.File.Identities[n])
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		out = append(out, "identity:sha256:"+hex.EncodeToString(sum[:]))
	}
	return out
}

// sharesSigner says whether a kept policy's signers (kept) and today's
// (now) have a key, certificate or identity in common: one that stays may
// have signed the source's older policies, so the kept serial still bounds
// it. Unknown on either side (kept by a release that did not record it)
// counts as shared: deny on doubt.
func sharesSigner(kept, now []string) bool {
	if len(kept) == 0 || len(now) == 0 {
		return true
	}
	for _, m := range kept {
		if slices.Contains(now, m) {
			return true
		}
	}
	return false
}
