package keysync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/internal/atomicfile"
	"github.com/signgate/signgate/keystore"
)

// StateFile is the last-known-good file's name in the state directory.
const StateFile = "kms-keys.json"

const stateFormat = 1

// stateEnvelope is the file: the keys, and a checksum of their exact bytes.
type stateEnvelope struct {
	Format   int             `json:"format"`
	Written  time.Time       `json:"written"`
	Checksum string          `json:"checksum"` // "sha256:<hex>" of Keys, compacted
	Keys     json.RawMessage `json:"keys"`
}

// WriteState persists statuses atomically: a temporary file in the same
// directory, fsynced, renamed over the old one, and the directory fsynced,
// so a crash leaves either the old file or the new one, never a mix.
func WriteState(dir string, statuses []Status, now time.Time) error {
	keys, err := json.Marshal(statuses)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(keys)
	data, err := json.MarshalIndent(stateEnvelope{Format: stateFormat, Written: now.UTC(), Checksum: "sha256:" + hex.EncodeToString(sum[:]), Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, StateFile), append(data, '\n'), 0o600)
}

// ErrNoState means there is no state file yet.
var ErrNoState = errors.New("no last-known-good state yet")

// ReadState loads and checks the state file. Nothing in a file that fails a
// check is used: a wrong checksum (corrupt or edited), a file others may
// write, an unknown format, or a key whose PEM does not match its recorded
// fingerprint.
func ReadState(dir string) ([]Status, time.Time, error) {
	path := filepath.Join(dir, StateFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, time.Time{}, ErrNoState
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, time.Time{}, fmt.Errorf("state file %s is writable by others (mode %v); not trusted", path, fi.Mode().Perm())
	}
	// Nor one in a directory where others could have swapped it in.
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return nil, time.Time{}, fmt.Errorf("state file %s is in a directory writable by others (mode %v); not trusted", path, di.Mode().Perm())
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	var env stateEnvelope
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	if env.Format != stateFormat {
		return nil, time.Time{}, fmt.Errorf("state file %s has format %d; this signgate reads %d", path, env.Format, stateFormat)
	}
	// The file is indented for people; the checksum is over the compact form.
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Keys); err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if env.Checksum != "sha256:"+hex.EncodeToString(sum[:]) {
		return nil, time.Time{}, fmt.Errorf("state file %s is corrupt or was edited: its checksum does not match", path)
	}
	var statuses []Status
	if err := json.Unmarshal(env.Keys, &statuses); err != nil {
		return nil, time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
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
	return statuses, env.Written, nil
}
