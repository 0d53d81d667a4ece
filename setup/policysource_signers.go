package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/signgate/signgate/config"
)

// signersID fingerprints what verifies the policy artifact: the
// [policy_source] rule and the local keys, certificates, trust roots and
// identities it may name, with the contents of the files they point at.
// A kept policy verified under another fingerprint is set aside: a key
// replaced because it leaked must not keep its policy, nor its serial.
func signersID(cc *config.Config, bc *Config) string {
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
		Rule       config.PolicySourceSection
		Keys       any
		Certs      any
		TrustRoots any
		Identities any
		Files      map[string]string
	}{cc.PolicySource.Section, cc.File.Keys, cc.File.Certs, cc.File.TrustRoots, cc.File.Identities, files})
	if err != nil {
		return "error: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
