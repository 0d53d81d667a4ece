package integration

import (
	"fmt"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 28 item 5: images signed per platform (`cosign sign --recursive`,
// CI signing each platform's build) carry the signature on the platform
// manifest that runs, not on the index containerd records. The real cosign
// CLI signs one manifest of a two-platform index, on both registries.
func TestPerPlatformSignatures(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	push := func(t *testing.T, ref string) harness.Platforms {
		t.Helper()
		p, err := harness.PushPlatforms(ref, "sleep", "3600")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, reg := range []struct{ name, host string }{{"distribution", e.Registry}, {"referrers-api", e.Referrers}} {
		t.Run(reg.name, func(t *testing.T) {
			e := &env{Env: e.Env, t: t}
			bundle := reg.host == e.Referrers

			// Only the platform manifest that runs is signed: allowed.
			ref := fmt.Sprintf("%s/perplatform/mine:v1", reg.host)
			p := push(t, ref)
			e.signCLI(p.Mine, bundle)
			if err := e.Pull(ref); err != nil {
				t.Fatal(err)
			}
			id, err := e.Create(podID, podCfg, ref)
			mustAllow(t, id, err)

			// Only the other platform's manifest is signed: it never
			// counts for the one that runs.
			ref = fmt.Sprintf("%s/perplatform/other:v1", reg.host)
			p = push(t, ref)
			e.signCLI(p.Other, bundle)
			if err := e.Pull(ref); err != nil {
				t.Fatal(err)
			}
			_, err = e.Create(podID, podCfg, ref)
			mustDeny(t, err, p.Index.DigestStr(), "no cosign signatures found")
		})
	}
}
