package registry

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// hostDir is the directory of dir containerd reads registry's hosts
// from, as its HostDirFromRoot finds it: the first that exists of
// <host>_<port>_ (for a registry with a port), <host:port> and _default;
// "" for none. The first existing directory is the one, hosts.toml in it
// or not: a registry's directory holding only certificates is not
// passed over for _default.
func hostDir(dir, registry string) (string, error) {
	name := hostDirName(registry)
	var candidates []string
	if i := strings.LastIndex(name, ":"); i > 0 {
		candidates = append(candidates, name[:i]+"_"+name[i+1:]+"_")
	}
	for _, c := range append(candidates, name, "_default") {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "", nil
}

// dockerCertsHosts reads a host directory without hosts.toml as
// containerd does: Docker's certs.d layout, every *.crt a CA and every
// *.cert a client certificate with the *.key of the same name (or its key
// in the same file), for the registry itself over https. nil when the
// directory holds none: the registry is read as if it had no directory.
func dockerCertsHosts(dir, registry string, base *http.Transport) ([]endpoint, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, err
	}
	var cas, clients []any
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(abs, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".crt"):
			cas = append(cas, p)
		case strings.HasSuffix(e.Name(), ".cert"):
			key := strings.TrimSuffix(p, ".cert") + ".key"
			if _, err := os.Stat(key); errors.Is(err, os.ErrNotExist) {
				key = ""
			} else if err != nil {
				return nil, err
			}
			clients = append(clients, []any{p, key})
		}
	}
	if len(cas) == 0 && len(clients) == 0 {
		return nil, nil
	}
	sort.Slice(cas, func(i, j int) bool { return cas[i].(string) < cas[j].(string) })
	var ep hostsFileEP
	if len(cas) > 0 {
		ep.CA = cas
	}
	if len(clients) > 0 {
		ep.Client = clients
	}
	server := "https://" + registry
	if hostDirName(registry) == "docker.io" {
		server = "https://registry-1.docker.io"
	}
	e, err := newEndpoint(abs, server, ep, base)
	if err != nil {
		return nil, err
	}
	return []endpoint{e}, nil
}
