package setup_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// Two tenants whose names together collide ("a" + "b/x" and "a/b" + "x"
// are both policy "a/b/x") used to pass each alone and, kept together,
// set the whole kept policy aside: the node denied every image, at every
// restart too. Now a delegation named with "/" is refused for its tenant
// alone (its delegation denies what it delegates), and the root's policies
// and tenant a's stay in force.
func TestTwoTenantsTogetherNeverBrickTheNode(t *testing.T) {
	path, state := sourcedConfig(t, "")
	s, _ := sigtest.NewSigner()
	pem := s.PublicPEM()
	root := rootDelegating(pem, `"a/b"`, "registry.example/p/ab:1", "ns-ab", "registry.example/ab/**")
	tenant := func(name, scope string) *policysource.Tenant {
		body := fmt.Sprintf("serial = 1\n[[policy]]\nname = %q\nnamespaces = [%q]\nscopes = [%q]\nmode = \"allow\"\n", name, map[string]string{"registry.example/a/**": "ns-a", "registry.example/ab/**": "ns-ab"}[scope], scope)
		return &policysource.Tenant{Digest: "sha256:" + name, Serial: 1, Body: body}
	}
	ta := tenant("b/x", "registry.example/a/**")
	tab := tenant("x", "registry.example/ab/**")
	ta.Reference, tab.Reference = "registry.example/p/a:1", "registry.example/p/ab:1"
	local, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.ComposeTenants(local, []byte(root), map[string]*policysource.Tenant{"a/b": tab}, "sha256:root"); err == nil {
		t.Error("tenant a/b, whose delegation name holds a /, was taken")
	}
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: root, Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{"a": ta, "a/b": tab}}
	c := keepAndLoad(t, path, state, k)
	if c.Source.Kept == nil {
		t.Fatalf("two tenants together set the whole root policy aside (every image denied, floors included): %v", c.Source.KeptError)
	}
	if got := strings.Join(policyNames(c), ","); got != "system,a/b/x,a/b/no-fragment-in-force" {
		t.Errorf("policies in force: %s, want the root's and tenant a's", got)
	}
}
