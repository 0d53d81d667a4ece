package credprovider

import (
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
)

// The kubelet's image matching, ported from k8s.io/kubernetes
// pkg/credentialprovider (keyring.go, v1.34): matchImages entries and the
// keys of a provider's auth map are schemeless URLs whose host may hold
// globs, one per dot-separated part; the port must be equal and the path a
// prefix. Ported rather than imported so that signgate matches exactly as
// the kubelet does without pulling the kubelet's dependency tree in.

// parseSchemeless is ParseSchemelessURL.
func parseSchemeless(s string) (*url.URL, error) {
	u, err := url.Parse("https://" + s)
	if err != nil {
		return nil, err
	}
	u.Scheme = ""
	return u, nil
}

// splitURL is SplitURL: the host's dot-separated parts, and the port.
func splitURL(u *url.URL) ([]string, string) {
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	return strings.Split(host, "."), port
}

// urlsMatch is URLsMatchStr: whether target matches glob.
func urlsMatch(glob, target string) (bool, error) {
	g, err := parseSchemeless(glob)
	if err != nil {
		return false, err
	}
	t, err := parseSchemeless(target)
	if err != nil {
		return false, err
	}
	gParts, gPort := splitURL(g)
	tParts, tPort := splitURL(t)
	if gPort != tPort || len(gParts) != len(tParts) || !strings.HasPrefix(t.Path, g.Path) {
		return false, nil
	}
	for i, p := range gParts {
		ok, err := filepath.Match(p, tParts[i])
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchesAny says whether image matches one of globs (isImageAllowed).
func matchesAny(globs []string, image string) bool {
	for _, g := range globs {
		if ok, _ := urlsMatch(g, image); ok {
			return true
		}
	}
	return false
}

// keyring is BasicDockerKeyring: a provider's auth map, its keys
// normalised and sorted in reverse so that the more specific match first.
type keyring struct {
	index []string
	creds map[string]Credential
}

func newKeyring(auth map[string]Credential) *keyring {
	k := &keyring{creds: map[string]Credential{}}
	for loc, c := range auth {
		v := loc
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			v = "https://" + v
		}
		u, err := url.Parse(v)
		if err != nil {
			continue // the kubelet ignores such an entry too
		}
		p := u.Path
		if strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/") {
			p = p[3:]
		}
		key := u.Host
		if p != "" && p != "/" {
			key += p
		}
		if _, dup := k.creds[key]; !dup {
			k.index = append(k.index, key)
		}
		k.creds[key] = c
	}
	sort.Sort(sort.Reverse(sort.StringSlice(k.index)))
	return k
}

// lookup is BasicDockerKeyring.Lookup, taking the first (most specific)
// match where the kubelet would try each in turn: signgate reads, it does
// not retry a pull with the next.
func (k *keyring) lookup(image string) (Credential, bool) {
	for _, key := range k.index {
		if ok, _ := urlsMatch(key, image); ok {
			return k.creds[key], true
		}
	}
	if isDefaultRegistryMatch(image) {
		if c, ok := k.creds["index.docker.io"]; ok {
			return c, true
		}
	}
	return Credential{}, false
}

// isDefaultRegistryMatch is the kubelet's: does image pull from Docker Hub?
func isDefaultRegistryMatch(image string) bool {
	parts := strings.SplitN(image, "/", 2)
	if parts[0] == "" {
		return false
	}
	if len(parts) == 1 || parts[0] == "docker.io" || parts[0] == "index.docker.io" {
		return true
	}
	return !strings.ContainsAny(parts[0], ".:")
}

// parseRegistry is the kubelet's: the image's first path element.
func parseRegistry(image string) string {
	r, _, _ := strings.Cut(image, "/")
	return r
}
