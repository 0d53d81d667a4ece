// Package tufroot keeps a Sigstore trusted_root.json current from a TUF
// repository (Sigstore's, or a mirror of it): every fetch is a full TUF
// update from a pinned initial root.json (go-tuf v2, through sigstore-go's
// client), so a rotated root, an expired or replayed role, or a tampered
// target is refused. What verified is written atomically to the state
// directory and used, last-known-good, when the repository cannot be
// reached. Nothing here runs on the decision path.
package tufroot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/signgate/signgate/internal/atomicfile"
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

// Path is where the last-known-good trusted_root.json is kept.
func (s *Source) Path() string {
	return filepath.Join(s.StateDir, "trust-roots", s.Name+".json")
}

func (s *Source) cacheDir() string {
	return filepath.Join(s.StateDir, "tuf", s.Name)
}

// ErrUnchanged: the repository's trust root is the one already kept.
var ErrUnchanged = errors.New("trust root unchanged")

// Refresh runs a TUF update, and writes the trust root it verified to
// Path when it differs from what is there. It returns the new content, or
// ErrUnchanged, or why nothing was written (the last-known-good stays).
func (s *Source) Refresh() ([]byte, error) {
	pinned, err := os.ReadFile(s.RootFile)
	if err != nil {
		return nil, fmt.Errorf("trust_roots.%s.tuf_root: %w", s.Name, err)
	}
	if err := os.MkdirAll(s.cacheDir(), 0o700); err != nil {
		return nil, err
	}
	opts := tuf.DefaultOptions().WithRoot(pinned).WithRepositoryBaseURL(s.Mirror).WithCachePath(s.cacheDir())
	opts.CacheValidity = 0 // always a full update: Refresh is how often to look
	c, err := tuf.New(opts)
	if err != nil {
		return nil, fmt.Errorf("trust root %s from %s: %w", s.Name, s.Mirror, err)
	}
	b, err := c.GetTarget(Target)
	if err != nil {
		return nil, fmt.Errorf("trust root %s from %s: %w", s.Name, s.Mirror, err)
	}
	// Signed by the repository is not enough to be usable.
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("trust root %s from %s: %s is not a Sigstore trusted root: %w", s.Name, s.Mirror, Target, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("trust root %s from %s: %s names no certificate authority", s.Name, s.Mirror, Target)
	}
	if old, err := os.ReadFile(s.Path()); err == nil && bytes.Equal(old, b) {
		return nil, ErrUnchanged
	}
	if err := os.MkdirAll(filepath.Dir(s.Path()), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(s.Path(), b, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}
