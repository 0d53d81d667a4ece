package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// pluginName is what notation allows in a plugin's name: it becomes part
// of a file name.
var pluginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

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
		if np.CacheTTL > config.MaxNotationPluginCacheTTL {
			p.Errorf("%s.cache_ttl = %v: at most %v; a revoked signing profile is believed valid for up to cache.allow_ttl + cache_ttl", at, np.CacheTTL, config.MaxNotationPluginCacheTTL)
		}
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
		if ps.SHA256 != "" && !sha256Hex.MatchString(ps.SHA256) {
			p.Errorf("%s.sha256 = %q: want the executable's SHA-256, 64 hex digits", at, ps.SHA256)
		}
		var err error
		if np.Resolved, np.File, err = checkExecutable(ps.Path, ps.SHA256); err != nil {
			p.Errorf("%s.path = %q: %v", at, ps.Path, err)
			continue
		}
		c.NotationPlugins[n] = np
	}
}

// checkExecutable: an absolute path (never looked up), to a regular file
// its owner may run, reached through directories and links that only root
// or signgate's user may change (trustedPath), and with pin, of that
// SHA-256. It returns the resolved path and the file's identity, which
// every run checks again.
func checkExecutable(path, pin string) (string, verify.PluginFile, error) {
	var none verify.PluginFile
	switch {
	case path == "":
		return "", none, fmt.Errorf("is required: the plugin's absolute path")
	case !filepath.IsAbs(path):
		return "", none, fmt.Errorf("give an absolute path; signgate never looks a plugin up")
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", none, err
	case !fi.Mode().IsRegular():
		return "", none, fmt.Errorf("not a regular file")
	case fi.Mode().Perm()&0o100 == 0:
		return "", none, fmt.Errorf("not executable by its owner")
	case fi.Mode().Perm()&0o022 != 0:
		return "", none, fmt.Errorf("writable by group or others (%v), so it could be replaced; chmod go-w", fi.Mode().Perm())
	}
	resolved, err := trustedPath(path)
	if err != nil {
		return "", none, err
	}
	id, err := verify.StatPluginFile(resolved)
	if err != nil {
		return "", none, err
	}
	if pin != "" {
		sum, err := fileSHA256(resolved)
		if err != nil {
			return "", none, err
		}
		if !strings.EqualFold(sum, pin) {
			return "", none, fmt.Errorf("its SHA-256 is %s, not the sha256 the config pins", sum)
		}
		// Read after the identity: a file rewritten in between fails at run.
	}
	return resolved, id, nil
}
