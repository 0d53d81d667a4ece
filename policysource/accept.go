package policysource

import "fmt"

// Change is what a fetched policy is to the one in force.
type Change int

const (
	Same  Change = iota // the one in force, confirmed
	Newer               // a higher serial: take it
)

// RollbackError refuses a policy whose serial does not go forward: a
// replayed older one, signed as it once was, or another policy reusing a
// serial.
type RollbackError struct {
	Digest          string
	Serial, InForce int64
	Min             bool // below policy_source.min_serial
}

func (e *RollbackError) Error() string {
	if e.Min {
		return fmt.Sprintf("policy %s has serial %d, below policy_source.min_serial (%d): refused as a rollback", e.Digest, e.Serial, e.InForce+1)
	}
	return fmt.Sprintf("policy %s has serial %d, not above the serial in force (%d): refused as a rollback", e.Digest, e.Serial, e.InForce)
}

// Accept compares a verified policy (digest, serial) with the one kept
// (nil before the first); min is the lowest serial taken even then, so a
// lost state file does not take any serial ever signed.
func Accept(kept *Kept, digest string, serial, min int64) (Change, error) {
	if serial < min {
		return 0, &RollbackError{Digest: digest, Serial: serial, InForce: min - 1, Min: true}
	}
	if kept == nil {
		return Newer, nil
	}
	if digest == kept.Digest {
		return Same, nil
	}
	if serial <= kept.Serial {
		return 0, &RollbackError{Digest: digest, Serial: serial, InForce: kept.Serial}
	}
	return Newer, nil
}
