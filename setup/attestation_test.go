package setup_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// TestDocumentedAttestationPolicyLoads: the SLSA example in docs/config.md
// is a config that loads, with its keys and identities defined.
func TestDocumentedAttestationPolicyLoads(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```toml\n(\\[\\[policy\\]\\]\nname = \"app\".*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/config.md has no attestation example")
	}
	body := "[keys.scanner]\npem = \"\"\"" + pub(t) + "\"\"\"\n" +
		"[trust_roots.public]\npath = \"" + writeTrustedRoot(t) + "\"\n" +
		"[identities.release]\ntrust_root = \"public\"\nissuer = \"https://token.actions.githubusercontent.com\"\nsubject = \"https://github.com/org/app/.github/workflows/build.yml@refs/heads/main\"\n" +
		string(m[1])
	c, err := setup.Load(write(t, t.TempDir(), "config.toml", body))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policies[0]
	if len(p.Attestations) != 3 {
		t.Fatalf("attestations: %+v", p.Attestations)
	}
	prov, scan, sbom := p.Attestations[0], p.Attestations[1], p.Attestations[2]
	if prov.PredicateType != verify.PredicateSLSA1 || len(prov.Conditions) != 3 || prov.Signers.Identities[0] != "release" {
		t.Fatalf("provenance: %+v", prov)
	}
	if scan.PredicateType != verify.PredicateVuln || scan.MaxAge != 168*time.Hour || len(scan.Conditions) != 2 {
		t.Fatalf("scan: %+v", scan)
	}
	if sbom.Name != "sbom" || sbom.PredicateType != verify.PredicateCycloneDX || len(sbom.Conditions) != 0 {
		t.Fatalf("sbom: %+v", sbom)
	}
}

func TestAttestationErrorsNameTheFault(t *testing.T) {
	head := "[keys.k]\npem = \"\"\"" + pub(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[[policy.attestation]]\n"
	for name, c := range map[string]struct{ body, want string }{
		"no type":          {"keys = [\"k\"]\n", `policy[0] "p".attestation[0].type: is required`},
		"unknown type":     {"type = \"slsa\"\nkeys = [\"k\"]\n", `policy[0] "p".attestation[0].type = "slsa": want a predicate type URI`},
		"no signer":        {"type = \"vuln\"\n", `policy[0] "p".attestation[0].keys: list at least one key`},
		"undefined key":    {"type = \"vuln\"\nkeys = [\"nope\"]\n", `policy[0] "p".attestation[0].keys: key "nope" is not defined`},
		"builders on sbom": {"type = \"cyclonedx\"\nkeys = [\"k\"]\nbuilders = [\"b\"]\n", `policy[0] "p".attestation[0].builders: reads SLSA provenance, but type = "cyclonedx"`},
		"bad max_age":      {"type = \"vuln\"\nkeys = [\"k\"]\nmax_age = \"a week\"\n", `policy[0] "p".attestation[0].max_age = "a week"`},
		"type error":       {"type = \"vuln\"\nkeys = [\"k\"]\nconditions = ['predicateType == 1', 'predicateType > \"a\" + 2']\n", `policy[0] "p".attestation[0].conditions[1] "predicateType > \"a\" + 2": ERROR: <input>:1:`},
		"not a bool":       {"type = \"vuln\"\nkeys = [\"k\"]\nconditions = ['size(subject)']\n", `conditions[0] "size(subject)": yields int`},
		"too costly":       {"type = \"vuln\"\nkeys = [\"k\"]\nconditions = ['predicate.a.all(x, predicate.a.all(y, predicate.a.all(z, x == y)))']\n", `over the limit of 1000000`},
		"two of one name":  {"type = \"vuln\"\nkeys = [\"k\"]\n[[policy.attestation]]\ntype = \"vuln\"\nkeys = [\"k\"]\n", `policy[0] "p".attestation[1].name: "vuln" names two attestations`},
		"every_signature":  {"type = \"vuln\"\nkeys = [\"k\"]\nevery_signature = true\n", `unknown key(s): policy[0] "p".attestation[0].every_signature`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := setup.Load(write(t, t.TempDir(), "config.toml", head+c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.toml") {
				t.Fatalf("error %v; want one naming config.toml and saying %q", err, c.want)
			}
		})
	}
}

func writeTrustedRoot(t *testing.T) string {
	t.Helper()
	ss, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := ss.WriteTrustedRoot(p, true); err != nil {
		t.Fatal(err)
	}
	return p
}
