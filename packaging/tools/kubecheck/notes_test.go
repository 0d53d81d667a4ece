package kubecheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// notes renders the chart's NOTES.txt with sets. helm template skips
// NOTES.txt and helm install needs a cluster, so a copy of the chart renders
// it through tpl into a template of its own.
func notes(t *testing.T, sets ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "signgate")
	if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(chart, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl := `notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "notes-render.yaml"), []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "signgate", dir, "--namespace", namespace, "--kube-version", kubeVersion, "--show-only", "templates/notes-render.yaml"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var out struct{ Notes string }
	if err := yaml.Unmarshal([]byte(helm(t, args...)), &out); err != nil {
		t.Fatal(err)
	}
	return out.Notes
}

// TestChartNotes: the notes name docs/install.md's real section, and speak
// of the catch-all policy only when the chart writes one.
func TestChartNotes(t *testing.T) {
	def := notes(t)
	if !strings.Contains(def, `"With Helm"`) {
		t.Errorf("NOTES.txt does not name docs/install.md's \"With Helm\" section:\n%s", def)
	}
	if !strings.Contains(def, "catch-all policy audits") {
		t.Errorf("NOTES.txt with the default audit catch-all does not say so:\n%s", def)
	}
	ps := notes(t, "policySource.enabled=true", "policySource.reference=registry.example.com/p:prod")
	if strings.Contains(ps, "catch-all") {
		t.Errorf("NOTES.txt speaks of the chart's catch-all policy though policySource.enabled writes none:\n%s", ps)
	}
}
