package keystore

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Source yields keys. The static source reads the TOML config's keys; a KMS
// source (later) fetches them remotely. Load must return every key it owns, or
// an error naming the key that failed.
type Source interface {
	Load(ctx context.Context) ([]*Key, error)
}

// Store is an immutable set of named keys and certificates.
type Store struct {
	keys  map[string]*Key
	certs map[string]*Cert
}

// NewStore builds a store from keys; a name given twice is an error.
func NewStore(keys ...*Key) (*Store, error) {
	s := &Store{keys: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if _, dup := s.keys[k.Name]; dup {
			return nil, fmt.Errorf("key %q is defined twice", k.Name)
		}
		s.keys[k.Name] = k
	}
	return s, nil
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

// Get returns the key called name.
func (s *Store) Get(name string) (*Key, bool) {
	k, ok := s.keys[name]
	return k, ok
}

// Keys returns every key, sorted by name.
func (s *Store) Keys() []*Key {
	out := make([]*Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Fingerprint identifies the store's content: two stores with the same keys
// have the same fingerprint, so verdicts can be bound to it.
func (s *Store) Fingerprint() string {
	var b strings.Builder
	for _, k := range s.Keys() {
		fmt.Fprintf(&b, "%s=%s;", k.Name, k.Fingerprint)
	}
	for _, c := range s.Certs() {
		fmt.Fprintf(&b, "cert:%s=%s;", c.Name, c.Fingerprint)
	}
	return b.String()
}

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
