package verify

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrBadName is the family of registry hosts spelled in a way signgate
// cannot tie to one registry: such a name is denied under every policy,
// rather than matched by none of the scopes written for its registry and
// left to a laxer one.
var ErrBadName = errors.New("a registry host signgate cannot tie to one registry")

// CanonicalHost is the one spelling of a registry host (with its port)
// that names and scopes are compared in; ParseScope and CanonicalRepo both
// use it. containerd's reference parser (github.com/distribution/reference)
// lets these spellings of one registry through, and each reaches the same
// host and port, so they are folded:
//
//   - the host's case (DNS names are case-insensitive);
//   - the port as a number ("0443" is 443, as Go's dialer reads it), and
//     443 dropped where the host still reads as a registry without it (has
//     a '.' or is localhost): containerd sends a name without a port to
//     HTTPS on 443
//     (port 80 is not folded: a name without a port never goes there unless
//     hosts.toml says so, and then it says so for that spelling only);
//   - an IPv6 address in any of its textual forms ("[0:0::1]", "[::0001]"),
//     and an IPv4-mapped one ("[::ffff:7f00:1]") as the IPv4 address;
//   - Docker Hub's aliases (index.docker.io, registry-1.docker.io) as
//     docker.io, as containerd names it.
//
// Anything else is refused (ErrBadName): a port that is not one (0, over
// 65535), an unspecified address (0.0.0.0, [::]: the kernel takes it for
// this node), an empty label (a trailing dot, which the parser refuses anyway),
// a character no host has ('%', '_'), and a host made only of numbers that
// is not a dotted quad in canonical form ("127.1", "127.0.0.01",
// "0x7f.0.0.1", "2130706433"): the C library's resolver reads those as an
// IPv4 address (inet_aton), Go's as a DNS name, so where they lead depends
// on the resolver. Names that differ by DNS alone (a CNAME, localhost and
// 127.0.0.1) are different names; their scopes must list each.
//
// A host already in canonical form is returned as it is, without
// allocating: this runs on every decision.
func CanonicalHost(host string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("%w: empty", ErrBadName)
	}
	if host[0] == '[' {
		return canonicalIPv6(host)
	}
	h, port, hasPort := strings.Cut(host, ":")
	lower, numeric := true, true
	label := 0 // length of the current label
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if label == 0 || h[i-1] == '-' {
				return "", fmt.Errorf("%w: %q has an empty label or one ending in '-'", ErrBadName, host)
			}
			if numeric {
				numeric = isNumberLabel(h[i-label : i])
			}
			label = 0
			continue
		}
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			lower = false
		case c == '-' && label > 0:
		default:
			return "", fmt.Errorf("%w: %q: %q is not allowed in a host name", ErrBadName, host, c)
		}
		label++
	}
	if numeric {
		// Only the spelling every resolver reads the same way.
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() {
			return "", fmt.Errorf("%w: %q reads as an IPv4 address to some resolvers and a DNS name to others; write it as a dotted quad (a.b.c.d, no leading zeros)", ErrBadName, host)
		}
		if a.IsUnspecified() {
			return "", fmt.Errorf("%w: %q is no host's address (connecting to it reaches this node)", ErrBadName, host)
		}
	}
	p, pChanged, err := canonicalPort(host, port, hasPort)
	if err != nil {
		return "", err
	}
	if !lower {
		h = strings.ToLower(h)
	}
	if hasPort && p == "" && !strings.Contains(h, ".") && h != "localhost" {
		// Without its port, "reg:443/app" would read as Docker Hub's
		// reg/app: the canonical spelling keeps the port.
		p, pChanged = "443", port != "443"
	}
	switch h {
	case "index.docker.io", "registry-1.docker.io":
		h = "docker.io"
	default:
		if lower && !pChanged {
			return host, nil
		}
	}
	if p == "" {
		return h, nil
	}
	return h + ":" + p, nil
}

// isNumberLabel: a label inet_aton reads as a number (decimal, octal or
// hexadecimal).
func isNumberLabel(l string) bool {
	if len(l) > 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		l = l[2:]
		for i := 0; i < len(l); i++ {
			if c := l[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalPort parses a port as a number: "" when it is the default
// (443) or absent; changed when the spelling differs from the canonical.
func canonicalPort(host, port string, hasPort bool) (string, bool, error) {
	if !hasPort {
		return "", false, nil
	}
	n := 0
	for i := 0; i < len(port); i++ {
		c := port[i]
		if c < '0' || c > '9' {
			return "", false, fmt.Errorf("%w: %q: the port %q is not a number", ErrBadName, host, port)
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			break
		}
	}
	if port == "" || n < 1 || n > 65535 {
		return "", false, fmt.Errorf("%w: %q: the port %q is not one (1 to 65535)", ErrBadName, host, port)
	}
	if n == 443 {
		return "", true, nil
	}
	if port[0] == '0' {
		return strconv.Itoa(n), true, nil
	}
	return port, false, nil
}

// canonicalIPv6 spells "[addr]" or "[addr]:port" as netip does: one
// textual form per address; an IPv4-mapped address is the IPv4 address.
func canonicalIPv6(host string) (string, error) {
	end := strings.IndexByte(host, ']')
	if end < 0 {
		return "", fmt.Errorf("%w: %q: an unclosed '['", ErrBadName, host)
	}
	a, err := netip.ParseAddr(host[1:end])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", fmt.Errorf("%w: %q is not an IPv6 address", ErrBadName, host)
	}
	if a.Unmap().IsUnspecified() {
		return "", fmt.Errorf("%w: %q is no host's address (connecting to it reaches this node)", ErrBadName, host)
	}
	rest := host[end+1:]
	if rest != "" && rest[0] != ':' {
		return "", fmt.Errorf("%w: %q: %q after the address", ErrBadName, host, rest)
	}
	p, _, err := canonicalPort(host, strings.TrimPrefix(rest, ":"), rest != "")
	if err != nil {
		return "", err
	}
	out := "[" + a.String() + "]"
	if a.Is4In6() {
		out = a.Unmap().String()
	}
	if p != "" {
		out += ":" + p
	}
	return out, nil
}

// CanonicalRepo is the repository name scopes are matched against: the
// registry as CanonicalHost spells it, and Docker Hub's official images
// with their "library/", as containerd names them. An error (ErrBadName)
// means the name is denied whatever the policies say.
func CanonicalRepo(r name.Repository) (string, error) {
	reg, err := CanonicalHost(r.RegistryStr())
	if err != nil {
		return "", fmt.Errorf("image %s: %w", r.Name(), err)
	}
	repo := r.RepositoryStr()
	if reg == "docker.io" && !strings.Contains(repo, "/") {
		return reg + "/library/" + repo, nil
	}
	return reg + "/" + repo, nil
}

// RepoName is CanonicalRepo for showing: a name it refuses is shown as
// written (and denied by the engine).
func RepoName(r name.Repository) string {
	if s, err := CanonicalRepo(r); err == nil {
		return s
	}
	return r.Name()
}

// normalizeScope spells a scope's registry as CanonicalRepo does. A glob in
// the registry cannot be canonicalized as a whole: it is lower-cased, and a
// literal port read as a number.
func normalizeScope(pattern string) (string, error) {
	reg, rest, ok := strings.Cut(pattern, "/")
	if !ok {
		return pattern, nil
	}
	if strings.Contains(reg, "*") {
		if strings.HasPrefix(reg, "[") {
			return "", fmt.Errorf("%w: %q: an IPv6 address cannot hold a glob", ErrBadName, reg)
		}
		h, port, hasPort := strings.Cut(strings.ToLower(reg), ":")
		if hasPort && !strings.Contains(port, "*") {
			p, _, err := canonicalPort(reg, port, true)
			if err != nil {
				return "", err
			}
			if p != "" {
				h += ":" + p
			}
		} else if hasPort {
			h += ":" + port
		}
		return h + "/" + rest, nil
	}
	reg, err := CanonicalHost(reg)
	if err != nil {
		return "", err
	}
	if reg == "docker.io" && !strings.Contains(rest, "/") && !strings.Contains(rest, "*") {
		rest = "library/" + rest
	}
	return reg + "/" + rest, nil
}
