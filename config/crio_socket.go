package config

import (
	"path/filepath"
	"strings"
)

// crioSocket is [daemon.runtime] crio_socket: the unix socket of CRI-O's
// CRI, through which signgate stops a running container on CRI-O. It has
// no default: signgate stops containers through the socket the operator
// named, never one found by looking. A "unix://" prefix, as crictl takes
// it, is accepted; the path must be absolute.
func crioSocket(p *Problems, s string) string {
	if s == "" {
		return ""
	}
	path := strings.TrimPrefix(s, "unix://")
	if !filepath.IsAbs(path) {
		p.Errorf("daemon.runtime.crio_socket = %q: want the absolute path of CRI-O's CRI socket (crio's listen, e.g. /var/run/crio/crio.sock)", s)
		return ""
	}
	return filepath.Clean(path)
}
