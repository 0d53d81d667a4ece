// Package tuftest builds a TUF repository on disk, as Sigstore publishes its
// trust root: root, targets, snapshot and timestamp roles (one ed25519 key
// each), consistent snapshots, and targets such as trusted_root.json. Serve
// its directory over HTTP to test a TUF client: new targets, a rotated root,
// an expired timestamp, a tampered target.
package tuftest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Repo is a TUF repository in Dir.
type Repo struct {
	Dir       string
	keys      map[string]ed25519.PrivateKey
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	files     map[string][]byte
}

// New makes a repository with no targets, its metadata valid for a week.
func New(dir string) (*Repo, error) {
	r := &Repo{Dir: dir, keys: map[string]ed25519.PrivateKey{}, files: map[string][]byte{}}
	week := time.Now().Add(7 * 24 * time.Hour)
	r.root = metadata.Root(week)
	r.targets = metadata.Targets(week)
	r.snapshot = metadata.Snapshot(week)
	r.timestamp = metadata.Timestamp(week)
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := r.newKey(role); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, err
	}
	if err := r.signRoot(); err != nil {
		return nil, err
	}
	return r, r.publish()
}

func (r *Repo) newKey(role string) error {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	k, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return err
	}
	if old, ok := r.keys[role]; ok {
		ok, err := metadata.KeyFromPublicKey(old.Public())
		if err != nil {
			return err
		}
		id, err := ok.ID()
		if err != nil {
			return err
		}
		if err := r.root.Signed.RevokeKey(id, role); err != nil {
			return err
		}
	}
	r.keys[role] = priv
	return r.root.Signed.AddKey(k, role)
}

func sign[T metadata.Roles](m *metadata.Metadata[T], keys ...ed25519.PrivateKey) error {
	m.ClearSignatures()
	for _, k := range keys {
		s, err := signature.LoadSigner(k, crypto.Hash(0))
		if err != nil {
			return err
		}
		if _, err := m.Sign(s); err != nil {
			return err
		}
	}
	return nil
}

func (r *Repo) signRoot(extra ...ed25519.PrivateKey) error {
	if err := sign(r.root, append(extra, r.keys[metadata.ROOT])...); err != nil {
		return err
	}
	return r.root.ToFile(filepath.Join(r.Dir, fmt.Sprintf("%d.root.json", r.root.Signed.Version)), true)
}

// publish signs and writes targets, snapshot and timestamp, each one
// version on.
func (r *Repo) publish() error {
	r.targets.Signed.Version++
	r.snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(r.targets.Signed.Version)
	r.snapshot.Signed.Version++
	r.timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.snapshot.Signed.Version)
	r.timestamp.Signed.Version++
	if err := sign(r.targets, r.keys[metadata.TARGETS]); err != nil {
		return err
	}
	if err := sign(r.snapshot, r.keys[metadata.SNAPSHOT]); err != nil {
		return err
	}
	if err := sign(r.timestamp, r.keys[metadata.TIMESTAMP]); err != nil {
		return err
	}
	if err := r.targets.ToFile(filepath.Join(r.Dir, fmt.Sprintf("%d.targets.json", r.targets.Signed.Version)), true); err != nil {
		return err
	}
	if err := r.snapshot.ToFile(filepath.Join(r.Dir, fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version)), true); err != nil {
		return err
	}
	return r.timestamp.ToFile(filepath.Join(r.Dir, "timestamp.json"), true)
}

// RootJSON is the repository's first root.json: what a client pins.
func (r *Repo) RootJSON() ([]byte, error) {
	return os.ReadFile(filepath.Join(r.Dir, "1.root.json"))
}

// SetTarget publishes content as the target name.
func (r *Repo) SetTarget(name string, content []byte) error {
	tf, err := metadata.TargetFile().FromBytes(name, content, "sha256")
	if err != nil {
		return err
	}
	r.targets.Signed.Targets[name] = tf
	sum := sha256.Sum256(content)
	if err := os.WriteFile(filepath.Join(r.Dir, "targets", hex.EncodeToString(sum[:])+"."+name), content, 0o644); err != nil {
		return err
	}
	r.files[name] = content
	return r.publish()
}

// Tamper replaces a published target's bytes without its metadata, as a
// compromised mirror would.
func (r *Repo) Tamper(name string, content []byte) error {
	old, ok := r.files[name]
	if !ok {
		return fmt.Errorf("no target %q", name)
	}
	sum := sha256.Sum256(old)
	return os.WriteFile(filepath.Join(r.Dir, "targets", hex.EncodeToString(sum[:])+"."+name), content, 0o644)
}

// RotateRoot publishes root version N+1 with a new root key, signed by the
// old root key and the new one, as a key ceremony does.
func (r *Repo) RotateRoot() error {
	old := r.keys[metadata.ROOT]
	if err := r.newKey(metadata.ROOT); err != nil {
		return err
	}
	r.root.Signed.Version++
	if err := r.signRoot(old); err != nil {
		return err
	}
	return r.publish()
}

// ExpireTimestamp publishes a timestamp that expired an hour ago.
func (r *Repo) ExpireTimestamp() error {
	r.timestamp.Signed.Expires = time.Now().Add(-time.Hour)
	return r.publish()
}

// SetTimestampExpiry publishes a timestamp that expires at t.
func (r *Repo) SetTimestampExpiry(t time.Time) error {
	r.timestamp.Signed.Expires = t
	return r.publish()
}
