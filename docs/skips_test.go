package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// skippers are the only files that may call Skip, Skipf or SkipNow: the
// helpers that fail instead under SIGNGATE_NO_SKIP=1 (make test), so that
// nothing make runs skips silently.
var skippers = map[string]bool{
	"internal/testkit/testenv/testenv.go":    true,
	"packaging/tools/kubecheck/skip_test.go": true, // its own module: a copy of testenv.Skip
}

func TestNoRawSkips(t *testing.T) {
	eachMethodCall(t, func(rel string) bool { return !skippers[rel] }, func(at token.Position, rel string, sel *ast.SelectorExpr) {
		if isIdent(sel.X, "testenv") {
			return
		}
		switch sel.Sel.Name {
		case "Skip", "Skipf", "SkipNow":
			t.Errorf("%s: %s calls %s, which SIGNGATE_NO_SKIP does not turn into a failure: use internal/testkit/testenv.Skip", at, rel, sel.Sel.Name)
		}
	})
}

// eachMethodCall calls fn on each call of the form x.Name(...) in the
// tree's Go files that keep keeps (by path from the repository's root).
func eachMethodCall(t *testing.T, keep func(rel string) bool, fn func(at token.Position, rel string, sel *ast.SelectorExpr)) {
	t.Helper()
	fset := token.NewFileSet()
	walkTree(t, func(rel string, d fs.DirEntry) error {
		rel = filepath.ToSlash(rel)
		if d.IsDir() || !strings.HasSuffix(rel, ".go") || !keep(rel) {
			return nil
		}
		f, err := parser.ParseFile(fset, filepath.Join("..", rel), nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					fn(fset.Position(call.Pos()), rel, sel)
				}
			}
			return true
		})
		return nil
	})
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
