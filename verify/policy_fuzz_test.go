package verify

import (
	"strings"
	"testing"
)

// FuzzScope checks the glob rules that policies rely on: a pattern without
// '*' matches exactly itself, and '*' never crosses a '/'.
func FuzzScope(f *testing.F) {
	for _, p := range []string{"reg.io/a/*", "**", "*.example.com/**", "localhost:5000/x", "reg.io/a/b"} {
		f.Add(p, "reg.io/a/b")
	}
	f.Fuzz(func(t *testing.T, pattern, repo string) {
		s, err := ParseScope(pattern)
		if err != nil {
			return
		}
		m := s.Matches(repo)
		if !strings.Contains(pattern, "*") && m != (pattern == repo) {
			t.Fatalf("literal scope %q matched %q: %v", pattern, repo, m)
		}
		if m && !strings.Contains(pattern, "**") && strings.Count(repo, "/") != strings.Count(pattern, "/") {
			t.Fatalf("%q matched %q across a '/'", pattern, repo)
		}
	})
}
