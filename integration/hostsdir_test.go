package integration

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// A registry whose certs.d directory is laid out the Docker way (its CA
// as ca.crt, no hosts.toml), as nodes moved from Docker have it:
// containerd pulls from it, and signgate reads the signatures trusting
// the same CA. (signgate read only hosts.toml, so every read of such a
// registry failed TLS and the image was denied.)
func TestDockerLayoutCertsDir(t *testing.T) {
	e := need(t)
	reg, err := harness.StartAuthRegistry(t.TempDir(), e.Bin, "robot", secret(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	dir, err := e.DockerCerts(reg.Host, reg.CA)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err != nil {
		t.Fatal(err)
	}
	p := pushNamed(t, e, reg, reg.Host, "docker-layout/app")
	p.pull(t, e)
	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restartWith(t, e, harness.DefaultSigngateConfig(e.Env)) })
	restartWith(t, e, privateConfigFor(e, reg.Host, fmt.Sprintf("docker_config = %q", cfg), ""))
	podID, podCfg := e.pod("default")
	id, err := e.Create(podID, podCfg, p.ref)
	mustAllow(t, id, err)
}
