package registry_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/registry/credprovider"
)

// provider writes a kubelet credential provider config naming one plugin,
// "fake", which answers with user and pass for host.
func provider(t *testing.T, host, user, pass string) credprovider.Settings {
	t.Helper()
	dir := t.TempDir()
	answer := fmt.Sprintf(`{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","auth":{%q:{"username":%q,"password":%q}}}`, host, user, pass)
	if err := os.WriteFile(filepath.Join(dir, "fake"), []byte("#!/bin/sh\ncat >/dev/null\necho '"+answer+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	body := "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: fake\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: [\"" + host + "\"]\n  defaultCacheDuration: 1m\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return credprovider.Settings{Config: cfg, BinDir: dir}
}

// A kubelet credential provider is a credential source: its credential
// opens an authenticated registry. A refusal names the registry, the
// source tried and the status, and never the password.
func TestCredentialsFromAKubeletProvider(t *testing.T) {
	t.Parallel()
	host := authRegistry(t, "AWS", "t0ken-from-plugin", "app/x:v1")
	repo, _ := name.NewRepository(host + "/app/x")

	good, err := registry.New(registry.Config{CredentialProviders: provider(t, host, "AWS", "t0ken-from-plugin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, good, host+"/app/x:v1"); err != nil {
		t.Fatalf("with the provider's credential: %v", err)
	}

	for _, c := range []struct {
		name, source string
		cfg          registry.Config
	}{
		{"wrong password", `credentials from kubelet credential provider "fake"`, registry.Config{CredentialProviders: provider(t, host, "AWS", "wr0ng-pa55")}},
		{"other host", `credentials from none (anonymous: no kubelet credential provider matches ` + host + `/app/x)`, registry.Config{CredentialProviders: provider(t, "other.example", "AWS", "wr0ng-pa55")}},
		{"no source", "credentials from none (anonymous: no credential source is configured)", registry.Config{}},
	} {
		cl, err := registry.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = cl.Explain(repo, head(t, cl, host+"/app/x:v1"))
		msg := fmt.Sprint(err)
		if want := "registry " + host + " answered 401 Unauthorized; " + c.source; !strings.Contains(msg, want) {
			t.Errorf("%s: %s\nwant %q", c.name, msg, want)
		}
		if strings.Contains(msg, "wr0ng-pa55") || strings.Contains(msg, "t0ken-from-plugin") {
			t.Errorf("%s: the error quotes a password: %s", c.name, msg)
		}
	}
}

// A provider that fails is the verification's error, naming it.
func TestFailingProviderIsNamed(t *testing.T) {
	t.Parallel()
	host := authRegistry(t, "AWS", "pw", "app/x:v1")
	s := provider(t, host, "AWS", "pw")
	if err := os.WriteFile(filepath.Join(s.BinDir, "fake"), []byte("#!/bin/sh\necho 'no instance role' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cl, err := registry.New(registry.Config{CredentialProviders: s})
	if err != nil {
		t.Fatal(err)
	}
	err = head(t, cl, host+"/app/x:v1")
	if err == nil || !strings.Contains(err.Error(), "registry "+host+": credential provider fake for "+host+"/app/x failed: exit status 1") || strings.Contains(err.Error(), "no instance role") {
		t.Errorf("got %v", err)
	}
}
