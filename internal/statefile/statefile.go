// Package statefile is how signgate keeps every file in its state
// directory: written atomically with a checksum of its payload, and read
// only if no one but signgate could have written it (the file and every
// directory from the state directory down to it are owned by signgate's
// user or root and writable by no one else) and the checksum matches. A
// file that fails a check is refused as a whole; the error names it.
package statefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/signgate/signgate/internal/atomicfile"
)

// ErrNotExist means the file has not been written yet.
var ErrNotExist = errors.New("no such state file yet")

// Write stores payload (marshalled to JSON) at path, under the envelope's
// field name, with its format, when it was written and a checksum of the
// payload's compact JSON. Directories from stateDir down are made 0700.
func Write(stateDir, path string, format int, field string, payload any, now time.Time) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	sum := sha256.Sum256(body)
	env := map[string]any{
		"format":   format,
		"written":  now.UTC(),
		"checksum": "sha256:" + hex.EncodeToString(sum[:]),
		field:      json.RawMessage(body),
	}
	data, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	// Writing into a directory others can write would be read back as
	// refused anyway; say so now, naming it.
	if err := CheckDirs(stateDir, filepath.Dir(path)); err != nil {
		return fmt.Errorf("state file %s %w: not written", path, err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// Read loads path's payload into out after every check, and returns when
// it was written. A missing file is ErrNotExist.
func Read(stateDir, path string, format int, field string, out any) (time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, ErrNotExist
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	if why := untrusted(fi); why != "" {
		return time.Time{}, fmt.Errorf("state file %s is %s; not trusted", path, why)
	}
	// Nor one in a directory where others could have swapped it in.
	if err := CheckDirs(stateDir, filepath.Dir(path)); err != nil {
		return time.Time{}, fmt.Errorf("state file %s %w; not trusted", path, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return time.Time{}, fmt.Errorf("state file %s: %w", path, err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		return time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	var hdr struct {
		Format   int       `json:"format"`
		Written  time.Time `json:"written"`
		Checksum string    `json:"checksum"`
	}
	if err := json.Unmarshal(buf.Bytes(), &hdr); err != nil {
		return time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	body, ok := env[field]
	if hdr.Checksum == "" || !ok {
		return time.Time{}, fmt.Errorf("state file %s has no checksummed %q (written by an older signgate, or not by signgate); not trusted", path, field)
	}
	if hdr.Format != format {
		return time.Time{}, fmt.Errorf("state file %s has format %d; this signgate reads %d", path, hdr.Format, format)
	}
	// The file is indented for people; the checksum is over the compact form.
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if hdr.Checksum != "sha256:"+hex.EncodeToString(sum[:]) {
		return time.Time{}, fmt.Errorf("state file %s is corrupt or was edited: its checksum does not match", path)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return time.Time{}, fmt.Errorf("state file %s is corrupt: %v", path, err)
	}
	return hdr.Written, nil
}

// CheckDirs checks dir and every directory above it up to and including
// stateDir (dir alone when it is not under stateDir): owned by signgate's
// user or root, and writable by no one else.
func CheckDirs(stateDir, dir string) error {
	stateDir, dir = filepath.Clean(stateDir), filepath.Clean(dir)
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("is in a directory that cannot be checked: %w", err)
		}
		if why := untrusted(fi); why != "" {
			return fmt.Errorf("is in a directory %s (%s)", why, dir)
		}
		if dir == stateDir || !strings.HasPrefix(dir, stateDir+string(filepath.Separator)) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// untrusted says why someone other than signgate's user or root could have
// written fi; "" when no one could.
func untrusted(fi os.FileInfo) string {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("writable by others, mode %v", fi.Mode().Perm())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "whose owner this system does not report"
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		return fmt.Sprintf("owned by uid %d, not signgate's (uid %d) or root", st.Uid, uid)
	}
	return ""
}

// Untrusted is untrusted for files signgate runs or reads outside its
// state directory (a verification plugin's executable and its directories).
func Untrusted(fi os.FileInfo) string { return untrusted(fi) }
