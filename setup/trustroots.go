package setup

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/tufroot"
	"github.com/signgate/signgate/verify"
)

// TUFSource is a trust root kept from a TUF repository, and how often.
type TUFSource struct {
	tufroot.Source
	Every time.Duration // refresh
	// MaxStaleness: how long after a verified update the trust root stays
	// trusted; 0 for until that update's TUF metadata expires.
	MaxStaleness time.Duration
}

// TrustRoot is what was kept, trusted until its staleness limit.
func (s *TUFSource) TrustRoot(k *tufroot.Kept) (*verify.TrustRoot, error) {
	tr, err := verify.ParseTrustRoot(s.Name, s.Path(), k.TrustedRoot)
	if err != nil {
		return nil, err
	}
	tr.Verified = k.Verified
	if s.MaxStaleness > 0 {
		tr.NotAfter, tr.Limit = k.Verified.Add(s.MaxStaleness), "trust_roots."+s.Name+".max_staleness "+s.MaxStaleness.String()
	} else {
		tr.NotAfter, tr.Limit = k.Expires, "the expiry of the TUF metadata that last vouched for it"
	}
	return tr, nil
}

// trustRoots reads [trust_roots.NAME]: a trusted_root.json now, or, for one
// kept from a TUF repository, its last-known-good copy if there is one.
func (c *Config) trustRoots(p *config.Problems, roots map[string]config.TrustRootSection) {
	c.TrustRoots = map[string]*verify.TrustRoot{}
	for _, n := range sortedKeys(roots) {
		tr := roots[n]
		switch {
		case (tr.Path == "") == (tr.TUFMirror == ""):
			p.Errorf("trust_roots.%s: give path (a Sigstore trusted_root.json) or tuf_mirror (a TUF repository publishing one), one of them", n)
			continue
		case tr.Path != "":
			if tr.TUFRoot != "" || tr.Refresh != "" || tr.MaxStaleness != "" {
				p.Errorf("trust_roots.%s: tuf_root, refresh and max_staleness apply only with tuf_mirror", n)
			}
			root, err := verify.LoadTrustRoot(n, c.Resolve(tr.Path))
			if err != nil {
				p.Errorf("trust_roots.%s: %v", n, err)
				continue
			}
			c.TrustRoots[n] = root
			continue
		}
		if tr.TUFRoot == "" {
			p.Errorf("trust_roots.%s: tuf_mirror needs tuf_root, the repository's root.json to trust first", n)
			continue
		}
		if u, err := url.Parse(tr.TUFMirror); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.Errorf("trust_roots.%s.tuf_mirror = %q: want an http(s) URL", n, tr.TUFMirror)
			continue
		}
		if _, err := os.Stat(c.Resolve(tr.TUFRoot)); err != nil {
			p.Errorf("trust_roots.%s.tuf_root: %v", n, err)
			continue
		}
		every := p.Duration("trust_roots."+n+".refresh", tr.Refresh, config.DefaultTrustRootRefresh)
		if every < time.Minute {
			p.Errorf("trust_roots.%s.refresh = %s: at least 1m", n, every)
		}
		src := TUFSource{Source: tufroot.Source{Name: n, Mirror: tr.TUFMirror, RootFile: c.Resolve(tr.TUFRoot), StateDir: c.Daemon.StateDir}, Every: every}
		if tr.MaxStaleness != "" {
			src.MaxStaleness = p.Duration("trust_roots."+n+".max_staleness", tr.MaxStaleness, 0)
			if src.MaxStaleness > 0 && src.MaxStaleness < 2*every {
				p.Errorf("trust_roots.%s.max_staleness = %q: must be at least twice refresh (%s), or one failed update takes the trust root away", n, tr.MaxStaleness, every)
			}
		}
		c.TUF = append(c.TUF, src)
		c.TrustRoots[n] = c.lastKnownGood(src)
	}
}

// lastKnownGood is the copy of a TUF-kept trust root a refresh has made, if
// it passes every state file's checks. One that fails them is not used, and
// not a config error: the next update replaces it.
func (c *Config) lastKnownGood(src TUFSource) *verify.TrustRoot {
	none := &verify.TrustRoot{Name: src.Name, Source: src.Path()}
	kept, err := src.Load()
	if err != nil {
		if !errors.Is(err, tufroot.ErrNotKept) {
			c.refused = append(c.refused, fmt.Sprintf("trust_roots.%s: the last-known-good copy is not used: %v", src.Name, err))
		}
		return none
	}
	root, err := src.TrustRoot(kept)
	if err != nil {
		c.refused = append(c.refused, fmt.Sprintf("trust_roots.%s: the last-known-good copy %s is not used: %v", src.Name, src.Path(), err))
		return none
	}
	return root
}

// identities reads [identities.NAME]: who signs keyless, under which trust
// root; each matcher is compiled now.
func (c *Config) identities(p *config.Problems, ids map[string]config.IdentitySection, keys map[string]config.KeySection, roots map[string]config.TrustRootSection) {
	for _, n := range sortedKeys(ids) {
		is := ids[n]
		if _, ok := keys[n]; ok {
			p.Errorf("identities.%s: a key has this name too; policies could not tell them apart", n)
		}
		id := &verify.Identity{Name: n, TrustRoot: is.TrustRoot, Issuer: is.Issuer, IssuerRegexp: is.IssuerRegexp,
			Subject: is.Subject, SubjectRegexp: is.SubjectRegexp}
		id.Extensions.SourceRepositoryURI, id.Extensions.SourceRepositoryRef = is.SourceRepositoryURI, is.SourceRepositoryRef
		id.Extensions.BuildSignerURI, id.Extensions.BuildTrigger = is.BuildSignerURI, is.BuildTrigger
		if _, ok := roots[is.TrustRoot]; !ok {
			p.Errorf("identities.%s.trust_root = %q: not defined under [trust_roots]", n, is.TrustRoot)
		}
		if _, err := id.Matcher(); err != nil {
			p.Errorf("%v", err)
			continue
		}
		c.Identities = append(c.Identities, id)
	}
}
