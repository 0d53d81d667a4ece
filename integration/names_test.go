package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 26, item 6: a registry spelled another way containerd accepts
// (here the port with a leading zero, which containerd dials as the same
// port) is governed by the policy written for that registry, through real
// containerd and crictl, not by a laxer policy after it.
func TestRegistrySpellingsGetTheirPolicy(t *testing.T) {
	e := need(t)
	// A lax policy last: before the fix the spelled name fell to it.
	e.withConfig(func(c string) string {
		return c + "\n[[policy]]\nname = \"lax\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	})
	host, port, err := net.SplitHostPort(e.Registry)
	if err != nil {
		t.Fatal(err)
	}
	spelled := fmt.Sprintf("%s:0%s", host, port)
	if _, err := harness.PushBusybox(e.Registry+"/spelling/app:v1", "sleep", "3600"); err != nil {
		t.Fatal(err)
	}
	ref := spelled + "/spelling/app:v1"
	if err := e.Pull(ref); err != nil {
		t.Fatalf("containerd does not pull the spelling (so it cannot arrive): %v", err)
	}
	pod, cfg := e.pod("default")
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "signgate denied image "+ref, `policy "apps"`)
	if strings.Contains(err.Error(), `"lax"`) {
		t.Fatalf("governed by the lax policy: %v", err)
	}
}
