package keysync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/internal/statefile"
	"github.com/signgate/signgate/keystore"
)

// StateFile is the last-known-good file's name in the state directory.
const StateFile = "kms-keys.json"

const stateFormat = 1

// WriteState persists statuses atomically, with a checksum (see
// internal/statefile), so a crash leaves either the old file or the new one,
// never a mix.
func WriteState(dir string, statuses []Status, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return statefile.Write(dir, filepath.Join(dir, StateFile), stateFormat, "keys", statuses, now)
}

// ErrNoState means there is no state file yet.
var ErrNoState = errors.New("no last-known-good state yet")

// ReadState loads and checks the state file. Nothing in a file that fails a
// check is used: those of every state file (a wrong checksum, a file or
// directory others may write or own, an unknown format), and a key whose
// PEM does not match its recorded fingerprint.
func ReadState(dir string) ([]Status, time.Time, error) {
	path := filepath.Join(dir, StateFile)
	var statuses []Status
	written, err := statefile.Read(dir, path, stateFormat, "keys", &statuses)
	if errors.Is(err, statefile.ErrNotExist) {
		return nil, time.Time{}, ErrNoState
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	for i := range statuses {
		s := &statuses[i]
		for j := range s.Versions {
			t := &s.Versions[j]
			k, err := keystore.ParsePublicKeyPEM(s.Name, s.Source, []byte(t.PublicKey))
			if err != nil {
				return nil, time.Time{}, fmt.Errorf("state file %s: %v", path, err)
			}
			if k.Fingerprint != t.Fingerprint {
				return nil, time.Time{}, fmt.Errorf("state file %s: key %q version %s does not match its fingerprint", path, s.Name, t.Version)
			}
			k.Version = t.Version
			t.key = k
		}
	}
	return statuses, written, nil
}
