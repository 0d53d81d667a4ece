package daemon

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
)

// A policy, or a tenant's fragment, whose expires has no offset was read
// in each node's time zone, so nodes disagreed by hours on when it
// expired. Both are refused, naming the reference and the key.
func TestPolicyExpiresWithoutOffsetIsRefused(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant := f.host, f.root, f.tenant
	ref := host.host + "/signgate/policy:prod"
	// Within max_validity: before, it was taken.
	local := strings.TrimSuffix(policytest.Soon, "Z")
	publishUnchecked(t, ref, "serial = 1\nexpires = "+local+"\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n", root)
	d, _ := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), root.PublicPEM())
	err := d.RefreshPolicy(t.Context())
	if policysource.Reason(err) != "malformed" || !strings.Contains(err.Error(), host.host+"/signgate/policy@sha256:") || !strings.Contains(err.Error(), "expires has no offset") {
		t.Fatalf("a policy whose expires has no offset: %v", err)
	}

	tenantRef := host.host + "/team-a/policy:prod"
	publishBody(t, ref, fmt.Sprintf("serial = 2\nexpires = %s\n[keys.team-a]\npem = '''\n%s'''\n[delegations.team-a]\nreference = %q\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nkeys = [\"team-a\"]\n",
		policytest.Soon, tenant.PublicPEM(), tenantRef, host.host), root)
	publishUnchecked(t, tenantRef, f.fragment(1, "expires = "+local+"\n"), tenant)
	cfg, _ := sourcedConfig(t, fmt.Sprintf("reference = %q", ref), root.PublicPEM())
	d = mustNew(t, cfg)
	mustRefresh(t, d)
	k := d.ps.kept.Load()
	if k == nil || k.Tenants["team-a"] != nil || k.LastRefusal == nil || k.LastRefusal.Reason != "malformed" || !strings.Contains(k.LastRefusal.Error, host.host+"/team-a/policy@sha256:") || !strings.Contains(k.LastRefusal.Error, "expires has no offset") {
		t.Errorf("a fragment whose expires has no offset: %+v", k)
	}
}

// publishUnchecked publishes body as a policy artifact signed by s, as
// policysource.Build would but without its checks: what a publisher
// with other tools could serve.
func publishUnchecked(t *testing.T, ref, body string, s *sigtest.Signer) {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(config.PolicyArtifactType))
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte(body), types.MediaType(config.PolicyMediaType))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SignLegacy(pushArtifact(t, ref, img)); err != nil {
		t.Fatal(err)
	}
}
