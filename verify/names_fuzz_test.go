package verify

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

// respell lists other spellings of the registry host h (with its port)
// that reach the same host and port: case, the port's leading zeros, the
// default port written out, other forms of an IPv6 address, IPv4-mapped
// forms of an IPv4 one, Docker Hub's aliases.
func respell(h string, zeros uint8) []string {
	host, port, hasPort := strings.Cut(h, ":")
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return nil
		}
		host, port = h[:end+1], strings.TrimPrefix(h[end+1:], ":")
		hasPort = h[end+1:] != ""
	}
	z := strings.Repeat("0", int(zeros%4)+1)
	ports := []string{":" + port, ":" + z + port}
	if !hasPort || strings.TrimLeft(port, "0") == "443" {
		ports = []string{"", ":443", ":" + z + "443"}
	}
	hosts := []string{host, strings.ToUpper(host), strings.ToLower(host)}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		b := a.As16()
		var long []string
		for i := 0; i < 16; i += 2 {
			long = append(long, fmt.Sprintf("%04x", int(b[i])<<8|int(b[i+1])))
		}
		hosts = append(hosts, "["+strings.Join(long, ":")+"]", "["+strings.ToUpper(strings.Join(long, ":"))+"]")
		if a.Is4() {
			hosts = append(hosts, fmt.Sprintf("[::ffff:%02x%02x:%02x%02x]", b[12], b[13], b[14], b[15]))
		}
	}
	switch strings.ToLower(host) {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		hosts = append(hosts, "docker.io", "index.docker.io", "registry-1.docker.io", "Registry-1.Docker.IO")
	}
	var out []string
	for _, hh := range hosts {
		for _, p := range ports {
			out = append(out, hh+p)
		}
	}
	return out
}

// FuzzSpellings: two spellings containerd would send to the same
// repository get the same policy (issue 26, item 6). A spelling containerd
// refuses cannot arrive and is skipped; one CanonicalRepo refuses is denied
// by the engine, and so must all its other spellings be.
func FuzzSpellings(f *testing.F) {
	for _, s := range [][2]string{
		{"reg.io", "app"}, {"reg.io:0443", "team/app"}, {"[::1]:5000", "app"}, {"127.0.0.1:5000", "a/b"},
		{"docker.io", "busybox"}, {"localhost", "x"}, {"127.1:5000", "app"}, {"REG.IO:80", "app"},
	} {
		f.Add(s[0], s[1], uint8(1))
	}
	f.Fuzz(func(t *testing.T, host, path string, zeros uint8) {
		base, ok := arrive(t, host+"/"+path)
		// Only a registry host is respelled: without a '.' or ':' (or
		// being localhost) the first segment is a path on Docker Hub.
		if !ok || strings.ContainsAny(host, "/@") || !strings.ContainsAny(host, ".:") && host != "localhost" {
			return
		}
		want, werr := CanonicalRepo(base.Context())
		if werr == nil {
			// The canonical spelling is itself one containerd accepts, of
			// the same registry, and canonical.
			reg, _, _ := strings.Cut(want, "/")
			n, err := reference.ParseNormalizedNamed(want)
			if err != nil || reference.Domain(n) != reg {
				t.Fatalf("%s/%s: containerd reads the canonical %q as %v (%v)", host, path, want, n, err)
			}
			if again, err := CanonicalHost(reg); err != nil || again != reg {
				t.Fatalf("%q canonicalizes to %q (%v)", reg, again, err)
			}
		}
		// Scopes written in the base's spelling, matched in order.
		var ps Policies
		for i, p := range []string{host + "/" + path, host + "/**", "**"} {
			if s, err := ParseScope(p); err == nil {
				ps = append(ps, Policy{Name: fmt.Sprint(i), Scopes: []Scope{s}})
			}
		}
		var wantP *Policy
		if werr == nil {
			wantP = ps.Match(want, "")
		}
		for _, sp := range respell(host, zeros) {
			d, ok := arrive(t, sp+"/"+path)
			if !ok || !strings.ContainsAny(sp, ".:") && sp != "localhost" {
				continue // refused, or a path on Docker Hub: another repository
			}
			got, err := CanonicalRepo(d.Context())
			if (err == nil) != (werr == nil) {
				t.Fatalf("%s/%s: %q (%v), but %s/%s: %q (%v)", host, path, want, werr, sp, path, got, err)
			}
			if err != nil {
				continue
			}
			if got != want {
				t.Fatalf("%s/%s is %q, %s/%s is %q", host, path, want, sp, path, got)
			}
			if gotP := ps.Match(got, ""); gotP != wantP {
				t.Fatalf("%s/%s governed by %v, %s/%s by %v", host, path, wantP, sp, path, gotP)
			}
			// A scope written in this spelling governs the base too.
			if s, err := ParseScope(sp + "/**"); err == nil && !s.Matches(want) {
				t.Fatalf("scope %s/** does not match %s", sp, want)
			}
		}
	})
}
