package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's layout table matches the tree: every row names a path that
// exists, and every directory holding Go code is under some row.
func TestLayoutTableMatchesTheTree(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)`(?:, `([^`]+)`)?").FindAllStringSubmatch(table, -1) {
		for _, p := range m[1:] {
			if p == "" {
				continue
			}
			p = strings.TrimSuffix(strings.TrimSuffix(p, "*"), "/")
			if _, err := os.Stat(filepath.Join("..", p)); err != nil {
				t.Errorf("the layout table names %s, which does not exist", p)
			}
			rows = append(rows, p)
		}
	}
	covered := func(dir string) bool {
		for _, r := range rows {
			if dir == r || strings.HasPrefix(dir, r+"/") {
				return true
			}
		}
		return false
	}
	walkTree(t, func(rel string, d fs.DirEntry) error {
		if !d.IsDir() && strings.HasSuffix(rel, ".go") {
			if dir := filepath.Dir(rel); !covered(dir) {
				t.Errorf("%s holds Go code but the README's layout table has no row for it", dir)
				return filepath.SkipDir
			}
		}
		return nil
	})
}
