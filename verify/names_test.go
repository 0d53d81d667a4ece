package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// arrive is how a name reaches the engine from containerd's image store
// (imagestore.Resolve): containerd's parser, then go-containerregistry's.
// ok is false for a spelling containerd refuses: it cannot arrive.
func arrive(t testing.TB, ref string) (name.Digest, bool) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return name.Digest{}, false
	}
	d, err := name.NewDigest(reference.TrimNamed(n).String() + "@sha256:" + strings.Repeat("a", 64))
	// The image store turns a name go-containerregistry refuses into an
	// unknown image (denied): it does not reach the engine either.
	return d, err == nil
}

func mustScope(t testing.TB, p string) Scope {
	s, err := ParseScope(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every spelling containerd lets through of one registry gets that
// registry's policy; one that might lead elsewhere is denied, never left
// to a laxer policy (issue 26, item 6).
func TestSpellingsReachingOneRegistryGetOnePolicy(t *testing.T) {
	t.Parallel()
	ps := Policies{
		{Name: "reg", Mode: Allow, Scopes: []Scope{mustScope(t, "reg.io/**")}},
		{Name: "v6", Mode: Allow, Scopes: []Scope{mustScope(t, "[::1]:5000/**")}},
		{Name: "v4", Mode: Allow, Scopes: []Scope{mustScope(t, "127.0.0.1:5000/**")}},
		{Name: "hub", Mode: Allow, Scopes: []Scope{mustScope(t, "docker.io/busybox")}},
		{Name: "reg443", Mode: Allow, Scopes: []Scope{mustScope(t, "reg:443/**")}},
		{Name: "rest", Mode: Allow, Scopes: []Scope{mustScope(t, "**")}},
	}
	for ref, want := range map[string]string{
		"reg.io/app":                        "reg",
		"reg.io:0443/app":                   "reg",
		"REG.io:000443/app":                 "reg",
		"reg.io:443/app":                    "reg",
		"reg.io:80/app":                     "rest", // https://reg.io:80: another port
		"reg.io:8443/app":                   "rest",
		"[::1]:5000/app":                    "v6",
		"[0:0:0:0:0:0:0:1]:5000/app":        "v6",
		"[::0001]:05000/app":                "v6",
		"[0::1]:5000/app":                   "v6",
		"[::ffff:7f00:1]:5000/app":          "v4", // IPv4-mapped: dials 127.0.0.1
		"[::FFFF:7F00:0001]:5000/app":       "v4",
		"127.0.0.1:05000/app":               "v4",
		"registry-1.docker.io:0443/busybox": "hub",
		"index.docker.io/busybox":           "hub",
		"reg:0443/app":                      "reg443", // not reg/app: that is Docker Hub's
		"reg:443/app":                       "reg443",
	} {
		d, ok := arrive(t, ref)
		if !ok {
			t.Errorf("%s: containerd refuses it; the test means one it accepts", ref)
			continue
		}
		repo, err := CanonicalRepo(d.Context())
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if p := ps.Match(repo, ""); p == nil || p.Name != want {
			t.Errorf("%s (%s) is governed by %v, want %s", ref, repo, p, want)
		}
	}

	// Spellings containerd accepts whose registry depends on the resolver,
	// or that name no port: denied, though "**" allows everything.
	eng := NewEngine(&Snapshot{ID: "s", Policies: ps}, nil, Options{})
	for _, ref := range []string{
		"127.0.0.01:5000/app", // glibc: 127.0.0.1; Go: a DNS name
		"127.1:5000/app",
		"0x7f.0.0.1:5000/app",
		"2130706433:5000/app",
		"0177.0.0.1:5000/app",
		"reg.io:0/app",
		"reg.io:70000/app",
		"reg.io:99999999999999999999/app",
		"0.0.0.0:5000/app",
		"[::]:5000/app",
		"[::ffff:0:0]:5000/app",
		"reg_io.com/app", // containerd takes it for a path on no registry; go-containerregistry for a registry
	} {
		d, ok := arrive(t, ref)
		if !ok {
			t.Errorf("%s: containerd refuses it; the test means one it accepts", ref)
			continue
		}
		v := eng.Decide(context.Background(), Request{Image: d})
		if v.Allowed || v.Cause != CauseBadName || !strings.Contains(v.Reason, "whatever the policies say") {
			t.Errorf("%s: allowed %v, cause %q (%s); want denied as a bad name", ref, v.Allowed, v.Cause, v.Reason)
		}
	}

	// Spellings containerd refuses cannot arrive; CanonicalHost refuses
	// them too, as other paths may bring them (go-containerregistry, which
	// parses the names given to signgate's own CLI, accepts "reg.io.").
	for _, ref := range []string{"reg.io./app", "reg%2Eio/app", "reg%2eio/app", "reg.io/te%41m/app", "reg.io/te%4am/app", "reg.io/te%4Am/app", "[fe80::1%25eth0]:5000/app"} {
		if _, ok := arrive(t, ref); ok {
			t.Errorf("%s: containerd accepts it", ref)
		}
		host, _, _ := strings.Cut(ref, "/")
		if host == "reg.io" {
			continue // the escape is in the path
		}
		if c, err := CanonicalHost(host); err == nil || !errors.Is(err, ErrBadName) {
			t.Errorf("%s: host %q canonical as %q (%v)", ref, host, c, err)
		}
	}
	// And a scope can be written in any of the spellings.
	for _, p := range []string{"REG.IO:0443/**", "reg.io:443/**"} {
		if !mustScope(t, p).Matches("reg.io/app") {
			t.Errorf("scope %s does not match reg.io/app", p)
		}
	}
	for _, p := range []string{"reg.io./**", "reg.io:0/**", "reg%2Eio/**", "127.1:5000/**"} {
		if _, err := ParseScope(p); err == nil {
			t.Errorf("scope %s accepted", p)
		}
	}
}

// A name already in canonical form is matched without allocating for it.
func TestCanonicalHostAllocatesNothingWhenCanonical(t *testing.T) {
	for _, h := range []string{"reg.io", "registry.example.com:5000", "localhost:5000", "127.0.0.1:5000", "docker.io"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = CanonicalHost(h) }); n != 0 {
			t.Errorf("%s: %v allocations", h, n)
		}
	}
}
