package policysource

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/signgate/signgate/config"
)

// DelegationSigners fingerprints who may sign delegation name's fragment
// under root: its keys (as the root defines them) and its require. A
// tenant's fragment records it when verified; under another one (the root
// rotated the tenant's key, say because it leaked) the fragment is no
// longer trusted, so it cannot stay in force while a new one is refused.
func DelegationSigners(root *config.Fragment, name string) string {
	d := root.Delegations[name]
	keys := make([]config.KeySection, len(d.Keys))
	for i, k := range d.Keys {
		keys[i] = root.Keys[k]
	}
	b, err := json.Marshal(struct {
		Names   []string
		Keys    []config.KeySection
		Require config.Rule
	}{d.Keys, keys, d.Require})
	if err != nil {
		return "error: " + err.Error() // matches nothing: deny on doubt
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckTenantSigners refuses a kept tenant's fragment verified under other
// signers than delegation name names now; one kept before fragments
// recorded them ("") is checked again at its next fetch.
func CheckTenantSigners(root *config.Fragment, name string, t *Tenant) error {
	if t.Signers == "" || t.Signers == DelegationSigners(root, name) {
		return nil
	}
	return &RefusedError{Digest: t.Digest, Reason: "untrusted", Err: fmt.Errorf(
		"delegation %q: its fragment %s was verified under other keys than the delegation names now: no longer trusted", name, t.Digest)}
}
