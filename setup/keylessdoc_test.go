package setup_test

import (
	"os"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// TestDocumentedKeylessExampleLoads: docs/config.md's keyless example (the
// Kubernetes release identity under Sigstore's TUF repository) loads as
// written, given its pinned root.json. Loading fetches nothing: the TUF
// update runs in the daemon.
func TestDocumentedKeylessExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```toml\n[trust_roots.public-good]\n"
	i := strings.Index(string(b), start)
	if i < 0 {
		t.Fatal("docs/config.md has no [trust_roots.public-good] example")
	}
	body := string(b[i+len("```toml\n"):])
	body = body[:strings.Index(body, "```")]
	dir := t.TempDir()
	const doc = "/etc/signgate/sigstore-tuf-root.json"
	if !strings.Contains(body, doc) {
		t.Fatalf("the keyless example names no %s", doc)
	}
	body = strings.ReplaceAll(body, doc, write(t, dir, "root.json", "{}"))
	body = "[daemon]\nstate_dir = \"" + dir + "\"\n\n" + body
	c, err := setup.Load(write(t, dir, "config.toml", body))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TUF) != 1 || c.TUF[0].Mirror != "https://tuf-repo-cdn.sigstore.dev" {
		t.Errorf("TUF sources %+v, want Sigstore's", c.TUF)
	}
	if len(c.Identities) != 1 || c.Identities[0].Subject != "krel-trust@k8s-releng-prod.iam.gserviceaccount.com" || c.Identities[0].TrustRoot != "public-good" {
		t.Errorf("identities %+v", c.Identities)
	}
	if p := c.Policies[0]; p.Name != "kubernetes" || p.Cosign == nil || len(p.Cosign.Identities) != 1 {
		t.Errorf("first policy %+v", p)
	}
}
