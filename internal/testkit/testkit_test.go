package testkit_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

const module = "github.com/signgate/signgate"

// testOnly are the trees only tests build on: the kits, and the end-to-end
// suite with its harness, demo and benchmark driver.
var testOnly = []string{module + "/internal/testkit", module + "/integration", module + "/docs"}

func isTestOnly(pkg string) bool {
	for _, p := range testOnly {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// TestProductionImportsNoTestKit: no package the binaries or the library
// are built from depends on a test kit or the integration harness, however
// indirectly (go list -deps, test files excluded).
func TestProductionImportsNoTestKit(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Skip(t, "no go command to list packages with: %v", err)
	}
	// .Deps is every package each one is built on, test files excluded.
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	prod := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || isTestOnly(f[0]) {
			continue
		}
		prod++
		for _, d := range f[1:] {
			if isTestOnly(d) {
				t.Errorf("%s depends on %s, which only tests may use", f[0], d)
			}
		}
	}
	if prod < 10 {
		t.Fatalf("only %d production packages listed:\n%s", prod, out)
	}
}
