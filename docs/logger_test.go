package docs

import (
	"go/ast"
	"go/token"
	"strings"
	"testing"
)

// testTrees hold code only tests run; they may log as they like.
var testTrees = []string{"integration/", "internal/testkit/", "packaging/tools/", "docs/"}

func production(rel string) bool {
	if strings.HasSuffix(rel, "_test.go") {
		return false
	}
	for _, tree := range testTrees {
		if strings.HasPrefix(rel, tree) {
			return false
		}
	}
	return true
}

// TestOneLoggerInjected: production code logs through the logger it is
// given (the daemon's, made once in `signgate run`), never through slog's
// package-level functions or default logger, so what a package logs goes
// where and at the level the daemon says.
func TestOneLoggerInjected(t *testing.T) {
	eachMethodCall(t, production, func(at token.Position, _ string, sel *ast.SelectorExpr) {
		if !isIdent(sel.X, "slog") {
			return
		}
		switch strings.TrimSuffix(sel.Sel.Name, "Context") {
		case "Debug", "Info", "Warn", "Error", "Log", "LogAttrs", "Default":
			t.Errorf("%s: calls slog.%s: log through the injected *slog.Logger", at, sel.Sel.Name)
		}
	})
}
