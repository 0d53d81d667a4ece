// Package docs holds signgate's documentation; its tests keep the
// documents in step with the code.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every test the threat model cites exists, so a guarantee never points at
// a test that was renamed or removed.
func TestThreatModelCitesRealTests(t *testing.T) {
	doc, err := os.ReadFile("threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 10 {
		t.Fatalf("the threat model cites only %d tests", len(cited))
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	walkTree(t, func(rel string, d fs.DirEntry) error {
		if strings.HasSuffix(rel, "_test.go") {
			b, err := os.ReadFile(filepath.Join("..", rel))
			if err != nil {
				return err
			}
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	for _, c := range cited {
		if !defined[c[1]] {
			t.Errorf("docs/threat-model.md cites %s, which no test file defines", c[1])
		}
	}
}

// walkTree calls fn for each file and directory of the repository (paths
// relative to its root), leaving out hidden directories, _output and
// testdata.
func walkTree(t *testing.T, fn func(rel string, d fs.DirEntry) error) {
	t.Helper()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "_output" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		return fn(rel, d)
	})
	if err != nil {
		t.Fatal(err)
	}
}
