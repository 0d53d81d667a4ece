package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/signgate/signgate/config"
)

// signersV2 prefixes the fingerprint of the signers alone.
const signersV2 = "v2:"

// signersID fingerprints what verifies the policy artifact: the
// [policy_source] rule (signatures, cosign, notation) and the local keys,
// certificates, trust roots and identities it may name, with the contents
// of the files they point at. A kept policy verified under another
// fingerprint is set aside: a key replaced because it leaked must not keep
// its policy, nor its serial. Nothing else is in it, so a new
// [policy_source] key, or a changed refresh, sets no policy aside.
func signersID(cc *config.Config, bc *Config) string {
	s := cc.PolicySource.Section
	return fingerprint(signersV2, struct {
		Signatures string
		Cosign     *config.CosignSection
		Notation   *config.NotationSection
	}{s.Signatures, s.Cosign, s.Notation}, cc, bc)
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
	}{s.Reference, s.Path, s.Refresh, s.MaxStaleness, s.OnStale, s.MinSerial, s.Signatures, s.Cosign, s.Notation}, cc, bc)
}

func fingerprint(version string, rule any, cc *config.Config, bc *Config) string {
	files := map[string]string{}
	read := func(path string) {
		if path == "" {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			files[path] = "error: " + err.Error() // differs from any content: deny on doubt
			return
		}
		sum := sha256.Sum256(b)
		files[path] = hex.EncodeToString(sum[:])
	}
	for _, k := range bc.Keys {
		read(k.Path)
	}
	for _, c := range bc.Certs {
		read(c.Path)
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
