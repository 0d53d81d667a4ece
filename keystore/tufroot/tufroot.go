// Package tufroot keeps a Sigstore trusted_root.json current from a TUF
// repository (Sigstore's, or a mirror of it): every fetch is a full TUF
// update from a pinned initial root.json (go-tuf v2's updater, which also
// reports the verified metadata's expiry), so a rotated root, an expired or replayed role, or a tampered
// target is refused. What verified is kept in the state directory
// (internal/statefile: atomic, checksummed, refused if others could have
// written it) with when it was verified and when the metadata that vouched
// for it expires, and used, last-known-good, when the repository cannot be
// reached, until it is stale. Nothing here runs on the decision path.
package tufroot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/signgate/signgate/internal/statefile"
)

// Target is the TUF target Sigstore publishes its trust root as.
const Target = "trusted_root.json"

// Source is one trust root kept from a TUF repository.
type Source struct {
	Name     string
	Mirror   string // the repository's base URL
	RootFile string // the pinned initial root.json
	StateDir string // signgate's state directory
}

// Kept is the last verified trust root, as the state directory keeps it.
type Kept struct {
	// TrustedRoot is the target exactly as the repository published it.
	TrustedRoot []byte `json:"trusted_root"`
	// Verified is when the TUF update that last verified it finished.
	Verified time.Time `json:"verified"`
	// Expires is the earliest expiry of that update's root, timestamp,
	// snapshot and targets metadata: past it, the repository has not
	// vouched for this trust root being current.
	Expires time.Time `json:"expires"`
}

const keptFormat = 1

// Path is where the last-known-good trust root is kept.
func (s *Source) Path() string {
	return filepath.Join(s.StateDir, "trust-roots", s.Name+".json")
}

func (s *Source) cacheDir() string {
	return filepath.Join(s.StateDir, "tuf", s.Name)
}

// ErrNotKept: no refresh has kept a trust root yet.
var ErrNotKept = errors.New("trust root not fetched yet")

// Load reads the last-known-good trust root, with every state file's
// checks (owner, mode, checksum); ErrNotKept if there is none.
func (s *Source) Load() (*Kept, error) {
	var k Kept
	_, err := statefile.Read(s.StateDir, s.Path(), keptFormat, "trust_root", &k)
	if errors.Is(err, statefile.ErrNotExist) {
		return nil, ErrNotKept
	}
	if err != nil {
		return nil, err
	}
	if len(k.TrustedRoot) == 0 || k.Verified.IsZero() || k.Expires.IsZero() {
		return nil, fmt.Errorf("state file %s is incomplete: no trust root, or no time it was verified or expires", s.Path())
	}
	return &k, nil
}

// Refresh runs a TUF update and keeps the trust root it verified, with
// when (now) and until when its metadata vouches for it. changed says the
// trust root differs from the one kept before; an unchanged one is kept
// again all the same, since its staleness counts from now. On an error
// nothing is written: the last-known-good stays.
func (s *Source) Refresh(now time.Time) (kept *Kept, changed bool, err error) {
	pinned, err := os.ReadFile(s.RootFile)
	if err != nil {
		return nil, false, fmt.Errorf("trust_roots.%s.tuf_root: %w", s.Name, err)
	}
	b, expires, err := s.update(pinned)
	if err != nil {
		return nil, false, fmt.Errorf("trust root %s from %s: %w", s.Name, s.Mirror, err)
	}
	// Signed by the repository is not enough to be usable.
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, false, fmt.Errorf("trust root %s from %s: %s is not a Sigstore trusted root: %w", s.Name, s.Mirror, Target, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, false, fmt.Errorf("trust root %s from %s: %s names no certificate authority", s.Name, s.Mirror, Target)
	}
	old, err := s.Load()
	changed = err != nil || !bytes.Equal(old.TrustedRoot, b)
	k := &Kept{TrustedRoot: b, Verified: now.UTC(), Expires: expires.UTC()}
	if err := s.Keep(k, now); err != nil {
		return nil, false, err
	}
	return k, changed, nil
}

// Keep writes k as the last-known-good trust root, with a checksum.
func (s *Source) Keep(k *Kept, now time.Time) error {
	return statefile.Write(s.StateDir, s.Path(), keptFormat, "trust_root", k, now)
}

// update is a full TUF update from the pinned root: the target's bytes and
// the earliest expiry of the top-level metadata that vouched for them.
func (s *Source) update(pinned []byte) ([]byte, time.Time, error) {
	// TUF checks what it caches against the pinned root's chain; a cache
	// others could write could still wedge updates (a version too high).
	dir := filepath.Join(s.cacheDir(), tuf.URLToPath(s.Mirror))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, time.Time{}, err
	}
	if err := statefile.CheckDirs(s.StateDir, dir); err != nil {
		return nil, time.Time{}, fmt.Errorf("TUF cache %s %w", dir, err)
	}
	cfg, err := config.New(s.Mirror, pinned)
	if err != nil {
		return nil, time.Time{}, err
	}
	cfg.LocalMetadataDir = dir
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	up, err := updater.New(cfg)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := up.Refresh(); err != nil {
		return nil, time.Time{}, fmt.Errorf("tuf refresh failed: %w", err)
	}
	ti, err := up.GetTargetInfo(Target)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("getting info for target %q: %w", Target, err)
	}
	path, b, err := up.FindCachedTarget(ti, "")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("target %s: %w", Target, err)
	}
	if path == "" {
		if _, b, err = up.DownloadTarget(ti, "", ""); err != nil {
			return nil, time.Time{}, fmt.Errorf("failed to download target file %s - %w", Target, err)
		}
	}
	tm := up.GetTrustedMetadataSet()
	exp := tm.Root.Signed.Expires
	for _, e := range []time.Time{tm.Timestamp.Signed.Expires, tm.Snapshot.Signed.Expires, tm.Targets[metadata.TARGETS].Signed.Expires} {
		if e.Before(exp) {
			exp = e
		}
	}
	return b, exp, nil
}
