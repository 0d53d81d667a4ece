package policysource

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/internal/statefile"
)

// StateFile is the last verified policy, in the state directory.
const StateFile = "policy.json"

const stateFormat = 1

// Kept is the last verified policy, and the last refusal.
type Kept struct {
	Reference string    `json:"reference"`
	Digest    string    `json:"digest"`
	Serial    int64     `json:"serial"`
	Body      string    `json:"body"`     // the artifact's TOML, as signed
	Verified  time.Time `json:"verified"` // when the source last confirmed it
	// Expires is the artifact's signed expires; zero for none.
	Expires time.Time `json:"expires,omitzero"`
	// Issued is its signature's trusted time (IssuedAt); zero for none.
	Issued time.Time `json:"issued,omitzero"`
	// Signers fingerprints the policy_source signers that verified it:
	// under other signers it is set aside until verified again.
	Signers string `json:"signers,omitempty"`
	// SignerMaterial: each key, certificate and identity among those
	// signers; under signers sharing none of it, its serial bounds nothing.
	SignerMaterial []string `json:"signer_material,omitempty"`
	// Tenants: the delegated fragments verified under it, by delegation.
	Tenants map[string]*Tenant `json:"tenants,omitempty"`
	// Absent: why each delegation without a fragment in force has none,
	// as the refresh that kept it found.
	Absent map[string]*Absence `json:"absent,omitempty"`
	// Refusals counts policies refused, across the policies taken.
	Refusals    int      `json:"refusals,omitempty"`
	LastRefusal *Refusal `json:"last_refusal,omitempty"`
}

// Refusal is a policy that was not taken, and why.
type Refusal struct {
	At     time.Time `json:"at"`
	Digest string    `json:"digest,omitempty"`
	Reason string    `json:"reason"` // a word: unsigned, untrusted, rollback, malformed, no_expires, expires_too_far, expired, overreach
	Error  string    `json:"error"`
}

// Path is where the kept policy lives under stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, StateFile) }

// ReadKept loads the kept policy with the state directory's checks; nil,
// nil when none was kept yet.
func ReadKept(stateDir string) (*Kept, error) {
	var k Kept
	if _, err := statefile.Read(stateDir, Path(stateDir), stateFormat, "policy", &k); err != nil {
		if errors.Is(err, statefile.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &k, nil
}

// WriteKept stores k atomically, checksummed.
func WriteKept(stateDir string, k *Kept, now time.Time) error {
	return statefile.Write(stateDir, Path(stateDir), stateFormat, "policy", k, now)
}
