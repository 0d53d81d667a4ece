package kubecheck

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The catch-all's default name says what it is, not a mode: set to
// enforce, a policy named "audit-everything" enforced, and set to audit it
// never made the node audit-only (earlier policies keep their modes).
func TestChartCatchAllNameSaysNoMode(t *testing.T) {
	for _, mode := range []string{"audit", "enforce"} {
		objs := render(t, "--set", "config.catchAll.mode="+mode)
		var cm corev1.ConfigMap
		strict(t, objs["ConfigMap/signgate-config"], &cm)
		cfg := cm.Data["config.toml"]
		want := "[[policy]]\nname = \"catch-all\"\nscopes = [\"**\"]\nmode = \"" + mode + "\""
		if !strings.Contains(cfg, want) {
			t.Errorf("mode %s: config.toml lacks %q:\n%s", mode, want, cfg)
		}
		if strings.Contains(cfg, "everything\"") {
			t.Errorf("mode %s: a policy name claims everything:\n%s", mode, cfg)
		}
	}
}
