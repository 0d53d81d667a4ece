package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoProjectPackage keeps config a reader: what compiles a config
// (keys, trust roots, policies, the engine) lives in setup, and config must
// not grow back into it. go list names every package config builds on.
func TestImportsNoProjectPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/signgate/signgate"
	for _, p := range strings.Fields(string(out)) {
		if (p == module || strings.HasPrefix(p, module+"/")) && p != module+"/config" {
			t.Errorf("config imports %s: config is pure data; compile in setup instead", p)
		}
	}
}
