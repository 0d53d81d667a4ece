package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The tables signgate cares about, in both configuration formats.
const (
	nriPlugin      = "io.containerd.nri.v1.nri"
	verifierPlugin = "io.containerd.image-verifier.v1.bindir"
)

// Containerd is what a node's containerd configuration says about NRI and
// the image verifiers, after its imports are merged the way containerd
// merges them.
type Containerd struct {
	Files  []string // the main file, then each import, in order
	Format int      // the configuration's version (2: containerd 1.x; 3: 2.x)

	NRIDisable         *bool // nil: not set (containerd's default applies)
	NRIRequestTimeout  time.Duration
	Validator          bool
	RequiredPlugins    []string
	TolerateAnnotation string
	VerifierDir        string // "" unless set
	// UnjudgedSnapshots: snapshot roots signgate cannot tell (snapshotroots.go).
	UnjudgedSnapshots []string
}

// ReadContainerd reads path and the files it imports. containerd 2.x merges
// an import into the tables before it; 1.x lets it replace a plugin's whole
// table, which is why a 1.7 drop-in must carry every NRI setting.
func ReadContainerd(path string) (*Containerd, error) {
	root, err := decode(path)
	if err != nil {
		return nil, err
	}
	c := &Containerd{Files: []string{path}, Format: 1}
	if v, ok := root["version"].(int64); ok {
		c.Format = int(v)
	}
	var imports []string
	if list, ok := root["imports"].([]any); ok {
		for _, p := range list {
			pattern, _ := p.(string)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, err := filepath.Glob(pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: imports: %q: %w", path, pattern, err)
			}
			sort.Strings(matches)
			imports = append(imports, matches...)
		}
	}
	plugins := table(root, "plugins")
	for _, imp := range imports {
		m, err := decode(imp)
		if err != nil {
			return nil, err
		}
		c.Files = append(c.Files, imp)
		for name, v := range table(m, "proxy_plugins") {
			table(root, "proxy_plugins")[name] = v
		}
		for name, v := range table(m, "plugins") {
			sub, _ := v.(map[string]any)
			if old, ok := plugins[name].(map[string]any); ok && c.Format >= 3 {
				merge(old, sub)
				continue
			}
			plugins[name] = sub
		}
	}
	nri := table(plugins, nriPlugin)
	if v, ok := nri["disable"].(bool); ok {
		c.NRIDisable = &v
	}
	if s, ok := nri["plugin_request_timeout"].(string); ok {
		if c.NRIRequestTimeout, err = time.ParseDuration(s); err != nil {
			// The value may come from an import: name every file read.
			return nil, fmt.Errorf("%s: plugins.%q.plugin_request_timeout: %w", strings.Join(c.Files, ", "), nriPlugin, err)
		}
	}
	val := table(nri, "default_validator")
	c.Validator, _ = val["enable"].(bool)
	if list, ok := val["required_plugins"].([]any); ok {
		for _, p := range list {
			if s, ok := p.(string); ok {
				c.RequiredPlugins = append(c.RequiredPlugins, s)
			}
		}
	}
	c.TolerateAnnotation, _ = val["tolerate_missing_plugins_annotation"].(string)
	c.VerifierDir, _ = table(plugins, verifierPlugin)["bin_dir"].(string)
	c.UnjudgedSnapshots = unjudgedSnapshotRoots(root, plugins)
	return c, nil
}

func decode(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := toml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// table is m[key] as a table, created empty when absent.
func table(m map[string]any, key string) map[string]any {
	if t, ok := m[key].(map[string]any); ok {
		return t
	}
	t := map[string]any{}
	m[key] = t
	return t
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}
