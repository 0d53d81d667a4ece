package credprovider

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The kubelet's CredentialProviderConfig (kubelet.config.k8s.io/v1, or the
// v1beta1 and v1alpha1 the kubelet still reads), the
// file named by its --image-credential-provider-config: YAML or JSON (which
// YAML reads), or a directory of *.json, *.yaml and *.yml files merged in
// name order, as the kubelet reads it since 1.34.
type fileConfig struct {
	Kind       string         `yaml:"kind"`
	APIVersion string         `yaml:"apiVersion"`
	Providers  []fileProvider `yaml:"providers"`
}

type fileProvider struct {
	Name                 string           `yaml:"name"`
	MatchImages          []string         `yaml:"matchImages"`
	DefaultCacheDuration *string          `yaml:"defaultCacheDuration"`
	APIVersion           string           `yaml:"apiVersion"`
	Args                 []string         `yaml:"args"`
	Env                  []fileEnv        `yaml:"env"`
	TokenAttributes      *tokenAttributes `yaml:"tokenAttributes"`
}

type fileEnv struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// tokenAttributes is service-account token mode (alpha in Kubernetes 1.33,
// beta in 1.34): the kubelet mints a token for the pod's service account
// and hands it to the plugin.
type tokenAttributes struct {
	ServiceAccountTokenAudience          string   `yaml:"serviceAccountTokenAudience"`
	CacheType                            string   `yaml:"cacheType"`
	RequireServiceAccount                *bool    `yaml:"requireServiceAccount"`
	RequiredServiceAccountAnnotationKeys []string `yaml:"requiredServiceAccountAnnotationKeys"`
	OptionalServiceAccountAnnotationKeys []string `yaml:"optionalServiceAccountAnnotationKeys"`
}

// configAPIVersion is the config's current version; the kubelet (1.34)
// still decodes the two before it, which lack tokenAttributes.
const configAPIVersion = "kubelet.config.k8s.io/v1"

var olderConfigAPIVersions = map[string]bool{
	"kubelet.config.k8s.io/v1beta1":  true,
	"kubelet.config.k8s.io/v1alpha1": true,
}

// pluginAPIVersions are the plugin protocol versions the kubelet speaks;
// their request and response are the same shape.
var pluginAPIVersions = map[string]bool{
	"credentialprovider.kubelet.k8s.io/v1":       true,
	"credentialprovider.kubelet.k8s.io/v1beta1":  true,
	"credentialprovider.kubelet.k8s.io/v1alpha1": true,
}

// provider is one provider as the config gives it, checked.
type provider struct {
	name         string
	bin          string // bin dir + name
	apiVersion   string
	matchImages  []string
	defaultCache time.Duration
	args         []string
	env          []string // NAME=value, after the daemon's own
	// withoutToken: a service-account-token provider signgate runs as the
	// kubelet runs it for a pod without a service account.
	withoutToken bool
	source       string // the file that declared it
}

// readConfig reads path (a file or a directory) and checks it as the
// kubelet does; every error names the file and the provider.
func readConfig(path, binDir string, tokens TokenMode) ([]*provider, error) {
	files, err := configFiles(path)
	if err != nil {
		return nil, err
	}
	var out []*provider
	seen := map[string]string{}
	for _, f := range files {
		ps, err := readFile(f, binDir, tokens)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if other, dup := seen[p.name]; dup {
				return nil, fmt.Errorf("%s: provider %q is also declared in %s", f, p.name, other)
			}
			seen[p.name] = f
			out = append(out, p)
		}
	}
	return out, nil
}

func configFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".json", ".yaml", ".yml":
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.json, *.yaml or *.yml files", path)
	}
	return files, nil
}

func readFile(path, binDir string, tokens TokenMode) ([]*provider, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key would otherwise be a setting silently not applied
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if fc.Kind != "CredentialProviderConfig" {
		return nil, fmt.Errorf("%s: kind %q: want CredentialProviderConfig", path, fc.Kind)
	}
	if fc.APIVersion != configAPIVersion && !olderConfigAPIVersions[fc.APIVersion] {
		return nil, fmt.Errorf("%s: apiVersion %q: want %s (or v1beta1, v1alpha1)", path, fc.APIVersion, configAPIVersion)
	}
	if len(fc.Providers) == 0 {
		return nil, fmt.Errorf("%s: providers: at least one is required", path)
	}
	var out []*provider
	for i, fp := range fc.Providers {
		if fp.TokenAttributes != nil && fc.APIVersion != configAPIVersion {
			// The kubelet's strict decoding refuses it as an unknown field.
			return nil, fmt.Errorf("%s: providers[%d] %q: tokenAttributes is a field of %s only, not %s", path, i, fp.Name, configAPIVersion, fc.APIVersion)
		}
		p, err := check(fp, binDir, tokens)
		if err != nil {
			return nil, fmt.Errorf("%s: providers[%d] %q: %w", path, i, fp.Name, err)
		}
		if p == nil {
			continue // skipped: it needs a service account token
		}
		p.source = path
		out = append(out, p)
	}
	return out, nil
}

func check(fp fileProvider, binDir string, tokens TokenMode) (*provider, error) {
	switch {
	case fp.Name == "", fp.Name == ".", fp.Name == "..", strings.ContainsAny(fp.Name, "/ "):
		return nil, errors.New("name must be a file name in the bin dir, without '/' or spaces")
	case !pluginAPIVersions[fp.APIVersion]:
		return nil, fmt.Errorf("apiVersion %q: want credentialprovider.kubelet.k8s.io/v1", fp.APIVersion)
	case len(fp.MatchImages) == 0:
		return nil, errors.New("matchImages: at least one is required")
	case fp.DefaultCacheDuration == nil:
		return nil, errors.New("defaultCacheDuration is required")
	}
	for _, m := range fp.MatchImages {
		if _, err := parseSchemeless(m); err != nil {
			return nil, fmt.Errorf("matchImages %q: %w", m, err)
		}
	}
	d, err := time.ParseDuration(*fp.DefaultCacheDuration)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("defaultCacheDuration %q: want a duration such as 12h", *fp.DefaultCacheDuration)
	}
	p := &provider{name: fp.Name, apiVersion: fp.APIVersion, matchImages: fp.MatchImages, defaultCache: d, args: fp.Args}
	for _, e := range fp.Env {
		if e.Name == "" || strings.Contains(e.Name, "=") {
			return nil, fmt.Errorf("env %q: not a variable name", e.Name)
		}
		p.env = append(p.env, e.Name+"="+e.Value)
	}
	if ta := fp.TokenAttributes; ta != nil {
		switch {
		case tokens != TokensWithout:
			return nil, errors.New("tokenAttributes: service-account token mode is refused: the kubelet mints a token " +
				"for the pod's service account, which signgate does not know (NRI does not say) and could only mint " +
				"with RBAC to create tokens for every service account, i.e. to assume any pod's cloud role; " +
				"set registry.credential_providers.service_account_tokens = \"without\" to run it as the kubelet " +
				"does for a pod without a service account")
		case ta.RequireServiceAccount == nil:
			return nil, errors.New("tokenAttributes.requireServiceAccount is required")
		case *ta.RequireServiceAccount:
			return nil, nil // the kubelet would not run it without a service account: nor does signgate
		}
		p.withoutToken = true
	}
	p.bin = filepath.Join(binDir, fp.Name)
	fi, err := os.Stat(p.bin)
	if err != nil {
		return nil, fmt.Errorf("plugin binary: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("plugin binary %s is not an executable file", p.bin)
	}
	return p, nil
}
