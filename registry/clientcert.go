package registry

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
)

// loadClientCerts reads hosts.toml's client key: as containerd reads it, a
// path, a list of paths, or a list of [cert, key] pairs; a path alone, or
// a pair with an empty key, names a PEM file holding both. Relative paths
// are the hosts.toml's directory's.
func loadClientCerts(file, host string, client any) ([]tls.Certificate, error) {
	bad := fmt.Errorf("%s: %s: client must be a path, a list of paths, or a list of [cert, key] pairs", file, host)
	var pairs [][2]string
	switch c := client.(type) {
	case string:
		pairs = append(pairs, [2]string{c, ""})
	case []any:
		for _, x := range c {
			switch p := x.(type) {
			case string:
				pairs = append(pairs, [2]string{p, ""})
			case []any:
				if len(p) == 0 || len(p) > 2 {
					return nil, bad
				}
				var pair [2]string
				for i, v := range p {
					s, ok := v.(string)
					if !ok {
						return nil, bad
					}
					pair[i] = s
				}
				pairs = append(pairs, pair)
			default:
				return nil, bad
			}
		}
	default:
		return nil, bad
	}
	abs := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(filepath.Dir(file), p)
		}
		return p
	}
	var out []tls.Certificate
	for _, p := range pairs {
		certFile, keyFile := abs(p[0]), abs(p[1])
		if keyFile == "" {
			keyFile = certFile
		}
		certPEM, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: client: %w", file, host, err)
		}
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: client: %w", file, host, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: client %s: %w", file, host, certFile, err)
		}
		out = append(out, cert)
	}
	return out, nil
}
