package packaging_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every file of this repository that a packaged file points its reader to
// exists: an operator reading the DaemonSet is sent somewhere real.
func TestPointersExist(t *testing.T) {
	path := regexp.MustCompile(`\b(?:docs|packaging)/[A-Za-z0-9_./-]*[A-Za-z0-9_]\.(?:md|toml|yaml)\b`)
	_ = filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) == ".go" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range path.FindAllString(string(b), -1) {
			if _, err := os.Stat(filepath.Join("..", m)); err != nil {
				t.Errorf("packaging/%s names %s, which does not exist", p, m)
			}
		}
		return nil
	})
}
