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

// testTrees hold code only tests run; they may log as they like.
var testTrees = []string{"integration/", "internal/testkit/", "packaging/tools/", "docs/"}

// TestOneLoggerInjected: production code logs through the logger it is
// given (the daemon's, made once in `signgate run`), never through slog's
// package-level functions or default logger, so what a package logs goes
// where and at the level the daemon says.
func TestOneLoggerInjected(t *testing.T) {
	fset := token.NewFileSet()
	walkTree(t, func(rel string, d fs.DirEntry) error {
		rel = filepath.ToSlash(rel)
		if d.IsDir() || !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		for _, tree := range testTrees {
			if strings.HasPrefix(rel, tree) {
				return nil
			}
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
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && isIdent(sel.X, "slog") {
				switch strings.TrimSuffix(sel.Sel.Name, "Context") {
				case "Debug", "Info", "Warn", "Error", "Log", "LogAttrs", "Default":
					t.Errorf("%s: calls slog.%s: log through the injected *slog.Logger", fset.Position(call.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
}
