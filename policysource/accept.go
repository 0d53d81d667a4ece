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
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("policy %s has serial %d, not above the serial in force (%d): refused as a rollback", e.Digest, e.Serial, e.InForce)
}

// Accept compares a verified policy (digest, serial) with the one kept
// (nil before the first).
func Accept(kept *Kept, digest string, serial int64) (Change, error) {
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
