package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// publicPEM is a fresh ECDSA P-256 public key, PEM-encoded.
func publicPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Without a daemon, keys list says plainly that it is not running and shows
// the config's static keys, not an error or an empty table.
func TestKeysListWithoutDaemon(t *testing.T) {
	cfg := writeConfig(t, allowAll+fmt.Sprintf("\n[keys.release]\npem = '''\n%s'''\n", publicPEM(t)))
	sock := filepath.Join(t.TempDir(), "none.sock")

	r := signgate(t, nil, "keys", "list", "--config", cfg, "--socket", sock)
	if r.code != 0 || !strings.Contains(r.stderr, "daemon is not running") || !strings.Contains(r.stderr, cfg) {
		t.Errorf("keys list, no daemon: exit %d; want 0 saying the daemon is not running and naming %s\n%s", r.code, cfg, r.stderr)
	}
	if !strings.Contains(r.stdout, "release") || !strings.Contains(r.stdout, "static") || !strings.Contains(r.stdout, "ecdsa-p256") {
		t.Errorf("keys list, no daemon: want the static key release listed\n%s", r.stdout)
	}

	var v struct {
		Keys []struct {
			Name, State, Fingerprint string
		}
		Daemon, Config, Error string
	}
	r = signgate(t, []string{"SIGNGATE_CONFIG=" + cfg}, "keys", "list", "--socket", sock, "--output", "json")
	decode(t, r, "signgate.dev/keys/v1", &v)
	if r.code != 0 || v.Error != "" || !strings.HasPrefix(v.Daemon, "not running") || v.Config != cfg ||
		len(v.Keys) != 1 || v.Keys[0].Name != "release" || v.Keys[0].State != "static" || !strings.HasPrefix(v.Keys[0].Fingerprint, "sha256:") {
		t.Errorf("keys list --output json, no daemon: exit %d %+v", r.code, v)
	}
}

// A config that cannot be read leaves nothing to show: both failures are named.
func TestKeysListWithoutDaemonOrConfig(t *testing.T) {
	var v struct{ Error string }
	r := signgate(t, nil, "keys", "list", "--config", "/nonexistent/c.toml", "--socket", filepath.Join(t.TempDir(), "none.sock"), "--output", "json")
	decode(t, r, "signgate.dev/keys/v1", &v)
	if r.code != 2 || !strings.Contains(v.Error, "none.sock") || !strings.Contains(v.Error, "/nonexistent/c.toml") {
		t.Errorf("keys list, no daemon, no config: exit %d %+v", r.code, v)
	}
}
