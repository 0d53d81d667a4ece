package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signgate/signgate/keystore"
)

// NotationPlugin is a verification plugin the config names ([notation_plugins.NAME]):
// the only programs signgate ever runs for a signature that asks for one
// (AWS Signer's signatures name theirs as a critical attribute). It is run
// by its absolute path, never looked up in notation's plugin directory.
type NotationPlugin struct {
	Name string
	Path string // absolute, as the config gives it
	// Resolved is Path with its symbolic links resolved when the config
	// was loaded, and File what was found there: what each run runs.
	Resolved string
	File     PluginFile
	Timeout  time.Duration // per run; the verification's own deadline bounds it too
	// CacheTTL is how long an answer (trusted identity, revocation of the
	// signing profile) is reused for the same signature and trust policy,
	// as fetched CRLs are until their next update; 0 keeps none.
	CacheTTL time.Duration
	// Certs are the roots (names in [certs]) whose signatures the plugin
	// verifies: under any other, a signature naming it is denied, since
	// notation-go lets a plugin replace its own identity and revocation
	// checks, and the signer chooses the plugin.
	Certs []string
	// Env names what of signgate's environment the plugin is given beyond
	// PluginBaseEnv: names, or prefixes ending in '*' ("AWS_*"). Nothing
	// else reaches it (a Vault token, say).
	Env []string
}

// PluginBaseEnv is what every plugin is given of signgate's environment:
// where programs and the home directory are, locale, time zone, TLS roots
// and proxies.
var PluginBaseEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}

// pluginEnv is environ filtered to the base and the plugin's own names.
func pluginEnv(environ, names []string) []string {
	allowed := func(k string) bool {
		for _, n := range append(append([]string(nil), PluginBaseEnv...), names...) {
			if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(k, p) || n == k {
				return true
			}
		}
		return false
	}
	out := []string{}
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); allowed(k) {
			out = append(out, kv)
		}
	}
	return out
}

// PluginAnswer is what a verification plugin said about one signature, as
// bound into the verdict.
type PluginAnswer struct {
	Plugin string `json:"plugin"`
	// Results by capability ("SIGNATURE_VERIFIER.REVOCATION_CHECK"): "ok",
	// or the plugin's reason for failing it.
	Results map[string]string `json:"results,omitempty"`
	// Error is why the plugin gave no usable answer (not named in the
	// config, timed out, crashed, answered outside its protocol).
	Error  string `json:"error,omitempty"`
	Cached bool   `json:"cached,omitempty"`
}

// ErrPluginNotNamed is why a signature asking for a plugin the config does
// not name cannot verify.
var ErrPluginNotNamed = errors.New("the config does not name it under [notation_plugins], and signgate runs no other program")

// ErrPluginNotForRoot is why a signature naming a configured plugin under
// a root the plugin's certs do not list cannot verify.
var ErrPluginNotForRoot = errors.New("its [notation_plugins] certs do not list this root, so it may not replace signgate's own checks here")

// ErrPluginNotForScheme is why a signature naming a plugin verifies only
// in the notary.x509.signingAuthority scheme under a signing_authority root.
var ErrPluginNotForScheme = errors.New("a plugin verifies only notary.x509.signingAuthority signatures under a signing_authority root, never in place of a ca root's identity and revocation checks")

// pluginRun is what one root's verification may run and what the plugins
// said; it travels in the context, so notation-go's verifiers (kept across
// snapshots) run only the plugins of the snapshot in force.
type pluginRun struct {
	plugins map[string]*NotationPlugin // those this root may run
	named   map[string]*NotationPlugin // all the config names
	kind    string                     // the root's
	mu      sync.Mutex
	last    *PluginAnswer
}

type pluginRunKey struct{}

// withPluginRun is ctx for verifying under root, of the keystore's kind:
// the plugins whose certs list it may run, and only under a
// signing_authority root (whose signatures notation-go accepts only in the
// notary.x509.signingAuthority scheme). Under a ca root the signer, anyone
// the CA certified, would choose the plugin that replaces notation's
// x509.subject and OCSP/CRL checks.
func withPluginRun(ctx context.Context, plugins map[string]*NotationPlugin, root, kind string) (context.Context, *pluginRun) {
	r := &pluginRun{plugins: map[string]*NotationPlugin{}, named: plugins, kind: kind}
	for n, p := range plugins {
		if kind == keystore.CertSigningAuthority && slices.Contains(p.Certs, root) {
			r.plugins[n] = p
		}
	}
	return context.WithValue(ctx, pluginRunKey{}, r), r
}

func (r *pluginRun) record(a *PluginAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = a
}

func (r *pluginRun) answer() *PluginAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// pluginManager is notation-go's plugin.Manager over the plugins the
// snapshot in force names, and nothing else: a name it does not know is an
// error, which notation-go turns into an inconclusive verification.
type pluginManager struct {
	answers *answerCache
	meta    *answerCache
}

func newPluginManager(now func() time.Time) *pluginManager {
	return &pluginManager{answers: newAnswerCache(now), meta: newAnswerCache(now)}
}

func (m *pluginManager) Get(ctx context.Context, name string) (plugin.Plugin, error) {
	run, _ := ctx.Value(pluginRunKey{}).(*pluginRun)
	if run == nil {
		return nil, fmt.Errorf("verification plugin %q: %w", name, ErrPluginNotNamed)
	}
	spec, ok := run.plugins[name]
	if !ok {
		why := ErrPluginNotNamed
		switch np := run.named[name]; {
		case np != nil && run.kind != keystore.CertSigningAuthority:
			why = ErrPluginNotForScheme
		case np != nil:
			why = ErrPluginNotForRoot
		}
		run.record(&PluginAnswer{Plugin: name, Error: why.Error()})
		return nil, fmt.Errorf("verification plugin %q: %w", name, why)
	}
	return &execPlugin{spec: spec, run: run, answers: m.answers, meta: m.meta, env: pluginEnv(os.Environ(), spec.Env)}, nil
}

// List names the plugins of no snapshot: notation-go does not call it
// when verifying.
func (m *pluginManager) List(context.Context) ([]string, error) { return nil, nil }

// pluginNames lists the configured plugins, for messages.
func pluginNames(ps map[string]*NotationPlugin) []string {
	out := make([]string, 0, len(ps))
	for n := range ps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// answerCache keeps plugins' answers until their TTL, by what was asked.
type answerCache struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]cachedAnswer
}

type cachedAnswer struct {
	v       any
	expires time.Time
}

const maxPluginAnswers = 4096

func newAnswerCache(now func() time.Time) *answerCache {
	return &answerCache{now: now, m: map[string]cachedAnswer{}}
}

func (c *answerCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if !ok || !c.now().Before(a.expires) {
		return nil, false
	}
	return a.v, true
}

func (c *answerCache) put(key string, v any, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxPluginAnswers {
		c.m = map[string]cachedAnswer{}
	}
	c.m[key] = cachedAnswer{v: v, expires: c.now().Add(ttl)}
}
