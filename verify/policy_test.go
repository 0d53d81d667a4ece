package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestScopes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		repo    string
		match   bool
	}{
		{"registry.example.com/team/*", "registry.example.com/team/app", true},
		{"registry.example.com/team/*", "registry.example.com/team/a/b", false},
		{"registry.example.com/team/*", "registry.example.com/teamx/app", false},
		{"registry.example.com/team/**", "registry.example.com/team/a/b", true},
		{"*.example.com/**", "eu.example.com/x/y", true},
		{"*.example.com/**", "example.com/x", false},
		{"*.example.com/**", "evil.com/eu.example.com/x", false},
		{"docker.io/library/busybox", "docker.io/library/busybox", true},
		{"docker.io/library/busybox", "docker.io/library/busybox2", false},
		{"localhost:5000/*", "localhost:5000/app", true},
		{"**", "anything/at/all", true},
	}
	for _, c := range cases {
		s, err := ParseScope(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := s.Matches(c.repo); got != c.match {
			t.Errorf("%s ~ %s = %v, want %v", c.pattern, c.repo, got, c.match)
		}
	}
	for _, bad := range []string{"", "reg.io/a@sha256:x", "reg.io/a?", "reg.io/***", "busybox"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("scope %q accepted", bad)
		}
	}
}

func TestRepoNameUsesContainerdSpelling(t *testing.T) {
	t.Parallel()
	r, _ := name.ParseReference("busybox:latest")
	if got := RepoName(r.Context()); got != "docker.io/library/busybox" {
		t.Fatalf("got %s", got)
	}
}

// No spelling of a name escapes the policy that governs it into a looser
// one (issue 11, item 7): registry case, the default port and Docker Hub's
// aliases all name the same repository.
func TestSpellingsDoNotEscapeAPolicy(t *testing.T) {
	t.Parallel()
	scope := func(p string) Scope {
		s, err := ParseScope(p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ps := Policies{
		{Name: "team", Scopes: []Scope{scope("registry.example.com/team/**")}},
		{Name: "hub", Scopes: []Scope{scope("docker.io/busybox"), scope("INDEX.docker.io/library/alpine")}},
		{Name: "rest", Scopes: []Scope{scope("**")}},
	}
	for ref, want := range map[string]string{
		"registry.example.com/team/app":            "team",
		"REGISTRY.Example.COM/team/app":            "team",
		"registry.example.com:443/team/app":        "team",
		"Registry.Example.com:443/team/a/b":        "team",
		"registry.example.com:5000/team/app":       "rest", // another port is another registry
		"busybox":                                  "hub",
		"docker.io/busybox":                        "hub",
		"Docker.io/busybox":                        "hub",
		"DOCKER.IO/library/busybox":                "hub",
		"index.docker.io/library/busybox":          "hub",
		"registry-1.docker.io/busybox":             "hub",
		"registry-1.docker.io:443/library/busybox": "hub",
		"alpine":                    "hub",
		"docker.io/library/alpine":  "hub",
		"docker.io/someone/busybox": "rest",
	} {
		r, err := name.ParseReference(ref + "@sha256:" + strings.Repeat("a", 64))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if p := ps.Match(RepoName(r.Context()), ""); p == nil || p.Name != want {
			t.Errorf("%s (%s) is governed by %v, want %s", ref, RepoName(r.Context()), p, want)
		}
	}
	if got := scope("INDEX.docker.io/library/alpine").Pattern; got != "INDEX.docker.io/library/alpine" {
		t.Errorf("the scope is shown as %q, not as written", got)
	}
}

func TestFirstMatchWins(t *testing.T) {
	t.Parallel()
	narrow, _ := ParseScope("reg.io/team/app")
	broad, _ := ParseScope("reg.io/**")
	ps := Policies{
		{Name: "ns-only", Scopes: []Scope{broad}, Namespaces: []string{"kube-system"}},
		{Name: "narrow", Scopes: []Scope{narrow}},
		{Name: "broad", Scopes: []Scope{broad}},
	}
	if p := ps.Match("reg.io/team/app", "default"); p.Name != "narrow" {
		t.Errorf("got %s", p.Name)
	}
	if p := ps.Match("reg.io/team/app", "kube-system"); p.Name != "ns-only" {
		t.Errorf("got %s", p.Name)
	}
	if p := ps.Match("reg.io/other", "default"); p.Name != "broad" {
		t.Errorf("got %s", p.Name)
	}
	if p := ps.Match("other.io/x", ""); p != nil {
		t.Errorf("got %s", p.Name)
	}
}

func TestThreshold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rule string
		n    int
		want int
		ok   bool
	}{{"any", 3, 1, true}, {"", 2, 1, true}, {"all", 3, 3, true}, {"2", 3, 2, true}, {"4", 3, 0, false}, {"0", 3, 0, false}, {"most", 3, 0, false}} {
		got, err := ParseThreshold(c.rule, c.n)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%q of %d: got %d, %v", c.rule, c.n, got, err)
		}
	}
}

// A policy validates itself; the engine denies under one that does not,
// whoever built it.
func TestPolicyValidates(t *testing.T) {
	t.Parallel()
	sc, _ := ParseScope("**")
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce}, "needs a [policy.cosign], [policy.notation] or [[policy.attestation]] requirement"},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: "warn"}, `.mode = "warn": want`},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Allow, Cosign: &CosignRequirement{Keys: []string{"k"}, Threshold: 1}}, `mode "allow" skips verification`},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: DenyMode, Notation: &NotationRequirement{Roots: []string{"r"}, Identities: []string{"*"}, Threshold: 1}}, `mode "deny" skips verification`},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce, Cosign: &CosignRequirement{Keys: []string{"k", "k"}, Threshold: 1}}, `key "k" is listed twice`},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce, Cosign: &CosignRequirement{Keys: []string{"k"}, Threshold: 2}}, ".cosign.require: 2 of 1 keys can never be met"},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce, Notation: &NotationRequirement{Roots: []string{"r"}, Identities: []string{"*"}, Level: "audit", Threshold: 1}}, `.notation.level = "audit": it does not establish`},
		{Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce, Signatures: Either, Cosign: &CosignRequirement{Keys: []string{"k"}, Threshold: 1}}, `.signatures = "either": combines kinds`},
		{Policy{Scopes: []Scope{sc}, Mode: Allow}, ": name is required"},
	} {
		errs := c.p.Validate()
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), c.want) || !errors.Is(errs[0], ErrInvalidPolicy) {
			t.Errorf("%+v: %v; want %q", c.p, errs, c.want)
		}
	}
	ok := Policy{Name: "p", Scopes: []Scope{sc}, Mode: Enforce, Cosign: &CosignRequirement{Keys: []string{"k"}, Threshold: 1}}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Errorf("a valid policy: %v", errs)
	}
	if errs := (&Policy{Name: "blocked", Scopes: []Scope{sc}, Mode: DenyMode}).Validate(); len(errs) != 0 {
		t.Errorf("a deny policy: %v", errs)
	}
}
