package policysource

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/signgate/signgate/config"
)

// FromConfig is the policy artifact's TOML for the sections of cc (a plain
// config, as check-config takes) that a policy source carries, its
// [delegations] included, at serial.
// Key and certificate files are inlined: a node reads nothing but the
// artifact. A trust root is kept as written (a TUF mirror, or a path each
// node must hold).
// expires, when not zero, is signed into it: nodes hold it stale after.
func FromConfig(cc *config.Config, serial int64, expires time.Time) ([]byte, error) {
	if serial <= 0 {
		return nil, fmt.Errorf("--serial %d: a policy needs a positive serial, above the one published before", serial)
	}
	f := cc.File
	frag := config.Fragment{Serial: serial, Expires: expires.UTC().Truncate(time.Second), Keys: maps.Clone(f.Keys), Certs: maps.Clone(f.Certs), TrustRoots: f.TrustRoots, Identities: f.Identities, Policy: f.Policy, Delegations: f.Delegations, Hooks: f.Hooks, AddedMounts: f.AddedMounts}
	for n, k := range frag.Keys {
		if k.Path == "" {
			continue
		}
		b, err := os.ReadFile(cc.Resolve(k.Path))
		if err != nil {
			return nil, fmt.Errorf("%s: keys.%s.path: %w", cc.Path, n, err)
		}
		k.Path, k.PEM = "", string(b)
		frag.Keys[n] = k
	}
	for n, c := range frag.Certs {
		if c.Path == "" {
			continue
		}
		b, err := os.ReadFile(cc.Resolve(c.Path))
		if err != nil {
			return nil, fmt.Errorf("%s: certs.%s.path: %w", cc.Path, n, err)
		}
		c.Path, c.PEM = "", string(b)
		frag.Certs[n] = c
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# signgate policy artifact, built from %s\n", cc.Path)
	if err := toml.NewEncoder(&buf).Encode(frag); err != nil {
		return nil, err
	}
	built, err := config.ParseFragment("built policy", buf.Bytes())
	if err != nil {
		return nil, err
	}
	// A node refuses the whole policy for an unbounded delegation.
	if err := CheckDelegations(built); err != nil {
		return nil, fmt.Errorf("%s: %w", cc.Path, err)
	}
	// And one whose policy has the name of a delegation's denial.
	if _, err := Merge(built, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", cc.Path, err)
	}
	return buf.Bytes(), nil
}
