package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// pluginName is what notation allows in a plugin's name: it becomes part
// of a file name.
var pluginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// envName is a variable's name, or a prefix of names ending in '*'.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)

// notationPlugins reads [notation_plugins.NAME]: each plugin by an absolute
// path to an executable that only its owner may change, run within a
// timeout that leaves room in registry.verify_timeout for both of a
// verification's runs (metadata, then the signature).
func (c *Config) notationPlugins(p *config.Problems, plugins map[string]config.NotationPluginSection, certKinds map[string]string) {
	c.NotationPlugins = map[string]*verify.NotationPlugin{}
	for _, n := range sortedKeys(plugins) {
		ps := plugins[n]
		at := fmt.Sprintf("notation_plugins.%q", n)
		if !pluginName.MatchString(n) {
			p.Errorf("%s: a plugin name is letters, digits, '.', '_' and '-' (e.g. \"com.amazonaws.signer.notation.plugin\")", at)
			continue
		}
		np := &verify.NotationPlugin{Name: n, Path: ps.Path,
			Timeout:  p.Duration(at+".timeout", ps.Timeout, config.DefaultNotationPluginTimeout),
			CacheTTL: p.NonNegative(at+".cache_ttl", ps.CacheTTL, config.DefaultNotationPluginCacheTTL)}
		if len(ps.Certs) == 0 {
			p.Errorf("%s.certs: is required: the roots (from [certs]) whose signatures the plugin verifies", at)
		}
		for _, cn := range ps.Certs {
			switch kind, ok := certKinds[cn]; {
			case !ok:
				p.Errorf("%s.certs: certificate %q is not defined under [certs]", at, cn)
			case kind != keystore.CertSigningAuthority:
				// Under a ca root the signer (anyone the CA certified)
				// would choose the plugin that replaces notation's
				// x509.subject and OCSP/CRL checks.
				p.Errorf("%s.certs: certificate %q is of kind %q; a plugin verifies only under a signing_authority root (a managed signing service's), never in place of a ca's identity and revocation checks", at, cn, kind)
			}
		}
		np.Certs = ps.Certs
		for _, v := range ps.Env {
			if !envName.MatchString(v) {
				p.Errorf("%s.env: %q is not an environment variable's name, or a prefix ending in '*' (\"AWS_*\")", at, v)
			}
		}
		np.Env = ps.Env
		if budget := c.Registry.VerifyTimeout / 2; np.Timeout > budget {
			p.Errorf("%s.timeout = %v: a verification runs the plugin twice within registry.verify_timeout (%v); give at most %v", at, np.Timeout, c.Registry.VerifyTimeout, budget)
		}
		if err := checkExecutable(ps.Path); err != nil {
			p.Errorf("%s.path = %q: %v", at, ps.Path, err)
			continue
		}
		c.NotationPlugins[n] = np
	}
}

// checkExecutable: an absolute path (never looked up), to a regular file
// its owner may run and no one else may write.
func checkExecutable(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("is required: the plugin's absolute path")
	case !filepath.IsAbs(path):
		return fmt.Errorf("give an absolute path; signgate never looks a plugin up")
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file")
	case fi.Mode().Perm()&0o100 == 0:
		return fmt.Errorf("not executable by its owner")
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("writable by group or others (%v), so it could be replaced; chmod go-w", fi.Mode().Perm())
	}
	return nil
}
