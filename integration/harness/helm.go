package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// SigngateValues are the chart values (charts/signgate) a user sets to
// install what SigngateManifest makes of the plain manifest: the image by
// digest, keyPEM (named "ci") in place of the placeholder, and the
// catch-all enforcing. Metrics are on, on port scrapePort of the node's IP.
func SigngateValues(image name.Digest, keyPEM string, scrapePort int) string {
	var key []string
	for _, l := range strings.Split(strings.TrimSpace(keyPEM), "\n") {
		key = append(key, "        "+l)
	}
	return fmt.Sprintf(`image:
  repository: %s
  digest: %s
config:
  keys:
    placeholder: null
    ci:
      pem: |
%s
  catchAll:
    name: everything
    mode: enforce
    keys: [ci]
metrics:
  enabled: true
  port: %d
`, image.Context().String(), image.DigestStr(), strings.Join(key, "\n"), scrapePort)
}

// HelmInstall installs the chart at chart as release signgate in
// signgate-system with values, and returns the manifest Helm applied.
func (c *Cluster) HelmInstall(helm, chart, values string) (string, error) {
	f := filepath.Join(c.Dir, "signgate-values.yaml")
	if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
		return "", err
	}
	if out, err := c.helm(helm, "install", "signgate", chart, "--namespace", "signgate-system", "--create-namespace", "-f", f); err != nil {
		return "", fmt.Errorf("helm install: %v: %s", err, out)
	}
	out, err := c.helm(helm, "get", "manifest", "signgate", "--namespace", "signgate-system")
	if err != nil {
		return "", fmt.Errorf("helm get manifest: %v: %s", err, out)
	}
	return out, nil
}

// HelmUpgrade upgrades release signgate in signgate-system to the chart at
// chart, keeping the values it has and setting set ("key=value", as
// --set), and waits for the DaemonSet's new pod to be Ready.
func (c *Cluster) HelmUpgrade(helm, chart string, set ...string) error {
	args := []string{"upgrade", "signgate", chart, "--namespace", "signgate-system", "--reuse-values"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	if out, err := c.helm(helm, args...); err != nil {
		return fmt.Errorf("helm upgrade: %v: %s", err, out)
	}
	if out, err := c.Kubectl("-n", "signgate-system", "rollout", "status", "daemonset/signgate", "--timeout=180s"); err != nil {
		return fmt.Errorf("signgate's DaemonSet after helm upgrade: %v: %s", err, out)
	}
	return c.WaitReady("signgate-system", "app.kubernetes.io/name=signgate", 3*time.Minute)
}

func (c *Cluster) helm(helm string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, append(args, "--kubeconfig", c.Kubeconfig)...)
	// Helm's caches and config in the cluster's directory, not the user's.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+c.file("helm/cache"), "HELM_CONFIG_HOME="+c.file("helm/config"), "HELM_DATA_HOME="+c.file("helm/data"))
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
