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
	fset := token.NewFileSet()
	walkTree(t, func(rel string, d fs.DirEntry) error {
		rel = filepath.ToSlash(rel)
		if d.IsDir() || !strings.HasSuffix(rel, ".go") || skippers[rel] {
			return nil
		}
		f, err := parser.ParseFile(fset, filepath.Join("..", rel), nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && !isIdent(sel.X, "testenv") {
				switch sel.Sel.Name {
				case "Skip", "Skipf", "SkipNow":
					t.Errorf("%s: %s calls %s, which SIGNGATE_NO_SKIP does not turn into a failure: use internal/testkit/testenv.Skip", fset.Position(call.Pos()), rel, sel.Sel.Name)
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
