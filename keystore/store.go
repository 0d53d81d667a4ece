package keystore

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Source yields keys. The static source reads the TOML config's keys; KMS
// keys arrive as Loaded, from the syncer (package keysync). Load must return
// every key it owns, or an error naming the key that failed.
type Source interface {
	Load(ctx context.Context) ([]*Key, error)
}

// Store is an immutable set of named keys and certificates. A name may hold
// several versions of a key (a KMS key during a rotation's grace period);
// a signature made with any of them counts for the name.
type Store struct {
	keys    map[string][]*Key
	certs   map[string]*Cert
	expires time.Time // the earliest NotAfter of its keys; zero for none
}

// NewStore builds a store from keys; a name and version given twice, or a
// name from two sources, is an error.
func NewStore(keys ...*Key) (*Store, error) {
	s := &Store{keys: make(map[string][]*Key, len(keys))}
	for _, k := range keys {
		for _, o := range s.keys[k.Name] {
			if o.Version == k.Version || o.Source != k.Source {
				return nil, fmt.Errorf("key %q is defined twice", k.Name)
			}
		}
		s.keys[k.Name] = append(s.keys[k.Name], k)
		if !k.NotAfter.IsZero() && (s.expires.IsZero() || k.NotAfter.Before(s.expires)) {
			s.expires = k.NotAfter
		}
	}
	return s, nil
}

// Expires is when the first of the store's keys stops being trusted; zero
// if none ever does.
func (s *Store) Expires() time.Time { return s.expires }

// Prune returns the store without the keys no longer trusted at now.
func (s *Store) Prune(now time.Time) *Store {
	var keep []*Key
	for _, k := range s.Keys() {
		if k.NotAfter.IsZero() || now.Before(k.NotAfter) {
			keep = append(keep, k)
		}
	}
	out, _ := NewStore(keep...) // a subset of a valid store is valid
	out.certs = s.certs
	return out
}

// Renew returns the store with each key's NotAfter taken from fresh, where
// fresh holds the same version of the same key material: a sync that
// changed nothing but extended how long the keys are trusted.
func (s *Store) Renew(fresh []*Key) *Store {
	by := make(map[string]*Key, len(fresh))
	for _, k := range fresh {
		by[k.Name+"@"+k.Version+"="+k.Fingerprint] = k
	}
	keys := s.Keys()
	for i, k := range keys {
		if f, ok := by[k.Name+"@"+k.Version+"="+k.Fingerprint]; ok && !f.NotAfter.Equal(k.NotAfter) {
			c := *k
			c.NotAfter = f.NotAfter
			keys[i] = &c
		}
	}
	out, _ := NewStore(keys...)
	out.certs = s.certs
	return out
}

// Load builds a store from every source, in order.
func Load(ctx context.Context, sources ...Source) (*Store, error) {
	var all []*Key
	for _, src := range sources {
		keys, err := src.Load(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
	}
	return NewStore(all...)
}

// Versions returns the trusted versions of the key called name; none if
// the store has no such key (or a KMS key has no trusted version now).
func (s *Store) Versions(name string) []*Key {
	return s.keys[name]
}

// Keys returns every key version, sorted by name and version.
func (s *Store) Keys() []*Key {
	out := make([]*Key, 0, len(s.keys))
	for _, vs := range s.keys {
		out = append(out, vs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// Fingerprint identifies the store's content: two stores with the same keys
// have the same fingerprint, so verdicts can be bound to it.
func (s *Store) Fingerprint() string {
	var b strings.Builder
	for _, k := range s.Keys() {
		fmt.Fprintf(&b, "%s@%s=%s;", k.Name, k.Version, k.Fingerprint)
	}
	for _, c := range s.Certs() {
		fmt.Fprintf(&b, "cert:%s=%s;", c.Name, c.Fingerprint)
	}
	return b.String()
}

// Loaded is a Source of keys already loaded elsewhere (a KMS syncer's).
type Loaded []*Key

// Load returns the keys.
func (l Loaded) Load(context.Context) ([]*Key, error) { return l, nil }

// StaticKey is a key declared in the config: inline PEM or a file path.
type StaticKey struct {
	Name string
	PEM  string // inline PEM, or
	Path string // a file holding PEM
}

// Static is the Source for keys declared in the config file.
type Static []StaticKey

// Load parses every declared key.
func (s Static) Load(context.Context) ([]*Key, error) {
	keys := make([]*Key, 0, len(s))
	for _, sk := range s {
		k, err := sk.load()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (sk StaticKey) load() (*Key, error) {
	switch {
	case sk.PEM != "" && sk.Path != "":
		return nil, fmt.Errorf("key %q: give either pem or path, not both", sk.Name)
	case sk.PEM != "":
		return ParsePublicKeyPEM(sk.Name, "inline", []byte(sk.PEM))
	case sk.Path != "":
		data, err := os.ReadFile(sk.Path)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", sk.Name, err)
		}
		return ParsePublicKeyPEM(sk.Name, "file:"+sk.Path, data)
	}
	return nil, fmt.Errorf("key %q: neither pem nor path is set", sk.Name)
}

// Shared lists the groups of key names that hold the same key material in
// some version: two names for one public key, or two KMS aliases that came
// to point at one key. A threshold counts such a group once, which is
// rarely what whoever wrote the policy meant.
func (s *Store) Shared() [][]string {
	byFP := map[string]map[string]bool{}
	for _, k := range s.Keys() {
		if byFP[k.Fingerprint] == nil {
			byFP[k.Fingerprint] = map[string]bool{}
		}
		byFP[k.Fingerprint][k.Name] = true
	}
	seen := map[string]bool{}
	var out [][]string
	for _, names := range byFP {
		if len(names) < 2 {
			continue
		}
		g := make([]string, 0, len(names))
		for n := range names {
			g = append(g, n)
		}
		sort.Strings(g)
		if key := strings.Join(g, "\x00"); !seen[key] {
			seen[key] = true
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], ",") < strings.Join(out[j], ",") })
	return out
}
