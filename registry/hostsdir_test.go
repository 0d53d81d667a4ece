package registry_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/registry"
)

// A registry's certs.d directory without hosts.toml is read in Docker's
// layout, as containerd reads it: *.crt CAs, *.cert client certificates
// with their *.key. containerd finds the directory named host:port or
// host_port_, and the first that exists is the one: _default's hosts.toml
// does not apply to a registry that has a directory of its own. Without
// the files, the registry's certificate is refused.
func TestHostsDirDockerCertsLayout(t *testing.T) {
	t.Parallel()
	srv, host, certPEM, keyPEM := mtlsRegistry(t, "app/d:v1")
	files := map[string][]byte{
		"ca.crt":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		"client.cert": certPEM, "client.key": keyPEM,
	}
	h, port, _ := strings.Cut(host, ":")
	for _, c := range []struct {
		dirName string
		files   []string
		ok      bool
	}{
		{host, []string{"ca.crt", "client.cert", "client.key"}, true},
		{h + "_" + port + "_", []string{"ca.crt", "client.cert", "client.key"}, true},
		{host, []string{"ca.crt"}, false},                    // no client certificate: the registry refuses
		{host, []string{"client.cert", "client.key"}, false}, // no CA: its certificate is refused
		{host, nil, false},
	} {
		dir := t.TempDir()
		// Nothing listens here: used, it fails the read.
		if err := os.MkdirAll(filepath.Join(dir, "_default"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "_default", "hosts.toml"), []byte("server = \"https://127.0.0.1:1\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, c.dirName)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range c.files {
			if err := os.WriteFile(filepath.Join(d, f), files[f], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cl, err := registry.New(registry.Config{HostsDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		err = head(t, cl, host+"/app/d:v1")
		if c.ok && err != nil {
			t.Errorf("%s holding %v: %v", c.dirName, c.files, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s holding %v: read, want refused", c.dirName, c.files)
		} else if !c.ok && strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%s holding %v: _default's hosts.toml was used: %v", c.dirName, c.files, err)
		}
	}
}
