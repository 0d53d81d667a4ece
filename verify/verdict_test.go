package verify_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/verify"
)

func TestDenyIsADenial(t *testing.T) {
	t.Parallel()
	v := verify.Deny("registry.example.com/app", "sha256:abc", verify.CauseImageUnknown, "cannot resolve")
	if v.Allowed || v.Verified || v.Image != "registry.example.com/app" || v.Digest != "sha256:abc" ||
		v.Cause != verify.CauseImageUnknown || v.Reason != "cannot resolve" || v.Decision() != "deny" {
		t.Fatalf("Deny made %+v", v)
	}
}

// Verdicts are made in verify: by the engine, or by Deny. A verdict spelled
// out elsewhere could leave a field (Allowed, a cause) wrong.
func TestNoVerdictLiteralOutsideVerify(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "verify", "_output", "vendor", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := lit.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Verdict" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "verify" {
					t.Errorf("%s: a verify.Verdict literal; use verify.Deny", fset.Position(lit.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
