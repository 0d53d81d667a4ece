package verify

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestScopes(t *testing.T) {
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
	r, _ := name.ParseReference("busybox:latest")
	if got := RepoName(r.Context()); got != "docker.io/library/busybox" {
		t.Fatalf("got %s", got)
	}
}

func TestFirstMatchWins(t *testing.T) {
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
