// Package docs holds signgate's documentation; its tests keep the
// documents in step with the code.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// citation matches a test the threat model cites: `TestX` or `FuzzX`, or
// qualified by the directory of its package, `registry.TestX` or
// `packaging/tools/kubecheck.TestX`.
var citation = regexp.MustCompile("`(?:([a-z0-9_/]+)\\.)?((?:Test|Fuzz)[A-Za-z0-9_]+)`")

// Every test the threat model cites is a test go test runs: a top-level
// func TestX(*testing.T) or FuzzX(*testing.F) in a _test.go file, in the
// package the doc names when it names one, and in one package only when it
// does not. So a guarantee never points at a test that was renamed,
// removed, turned into a helper, or that lives somewhere else than said.
func TestThreatModelCitesRealTests(t *testing.T) {
	doc, err := os.ReadFile("threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	cited := citation.FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 10 {
		t.Fatalf("the threat model cites only %d tests", len(cited))
	}
	defined := testFuncs(t)
	for _, c := range cited {
		pkg, fn := c[1], c[2]
		dirs := defined[fn]
		switch {
		case len(dirs) == 0:
			t.Errorf("docs/threat-model.md cites %s, which no test file defines as a %s", c[0], kindOf(fn))
		case pkg != "" && !contains(dirs, pkg):
			t.Errorf("docs/threat-model.md cites %s, but %s is defined in %s", c[0], fn, strings.Join(dirs, ", "))
		case pkg == "" && len(dirs) > 1:
			t.Errorf("docs/threat-model.md cites %s, which %s all define: name the package (`%s.%s`)", c[0], strings.Join(dirs, ", "), dirs[0], fn)
		}
	}
}

// Every guarantee in the table names at least one test.
func TestEveryGuaranteeNamesATest(t *testing.T) {
	doc, err := os.ReadFile("threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n## What signgate guarantees\n")
	if !ok {
		t.Fatal("threat-model.md has no guarantees section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	rows := 0
	for _, l := range strings.Split(table, "\n") {
		if !strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "| guarantee") || strings.HasPrefix(l, "| ---") {
			continue
		}
		rows++
		cells := strings.Split(l, " | ")
		if !citation.MatchString(cells[len(cells)-1]) {
			t.Errorf("a guarantee names no test in its last column: %s", l)
		}
	}
	if rows < 10 {
		t.Fatalf("the guarantees table has only %d rows", rows)
	}
}

// testFuncs maps each test and fuzz function of the repository to the
// directories (relative to the root) of the packages that define it.
func testFuncs(t *testing.T) map[string][]string {
	t.Helper()
	defined := map[string][]string{}
	fset := token.NewFileSet()
	walkTree(t, func(rel string, d fs.DirEntry) error {
		if d.IsDir() || !strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, filepath.Join("..", rel), nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isTestFunc(fn) {
				continue
			}
			if !contains(defined[fn.Name.Name], dir) {
				defined[fn.Name.Name] = append(defined[fn.Name.Name], dir)
			}
		}
		return nil
	})
	for _, dirs := range defined {
		sort.Strings(dirs)
	}
	return defined
}

// isTestFunc reports whether fn is one go test runs: TestX(t *testing.T)
// or FuzzX(f *testing.F), with no type parameters and no results.
func isTestFunc(fn *ast.FuncDecl) bool {
	want := map[string]string{"Test": "T", "Fuzz": "F"}[kindPrefix(fn.Name.Name)]
	ft := fn.Type
	if want == "" || ft.TypeParams != nil || ft.Results != nil || len(ft.Params.List) != 1 || len(ft.Params.List[0].Names) > 1 {
		return false
	}
	star, ok := ft.Params.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "testing" && sel.Sel.Name == want
}

func kindPrefix(name string) string {
	for _, p := range []string{"Test", "Fuzz"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && !('a' <= rest[0] && rest[0] <= 'z') {
			return p
		}
	}
	return ""
}

func kindOf(name string) string {
	if kindPrefix(name) == "Fuzz" {
		return "func(*testing.F)"
	}
	return "func(*testing.T)"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
