package credprovider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tokenProviders = `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: fake
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["*.registry.io"]
    defaultCacheDuration: 1m
    tokenAttributes:
      serviceAccountTokenAudience: sts.amazonaws.com
      cacheType: ServiceAccount
      requireServiceAccount: false
  - name: needs-token
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["*.registry.io"]
    defaultCacheDuration: 1m
    tokenAttributes:
      serviceAccountTokenAudience: sts.amazonaws.com
      cacheType: ServiceAccount
      requireServiceAccount: true
`

// Service-account token mode is refused unless asked for; asked for, a
// provider that can run without a token runs without one, and one that
// requires a service account is skipped, as the kubelet would for a pod
// without one. signgate never mints a token.
func TestServiceAccountTokenProviders(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	cfg := f.config(t, tokenProviders)
	_, err := Load(Settings{Config: cfg, BinDir: f.bin})
	if err == nil || !strings.Contains(err.Error(), `providers[0] "fake": tokenAttributes: service-account token mode is refused`) ||
		!strings.Contains(err.Error(), cfg) {
		t.Fatalf("refuse: %v", err)
	}
	ps, err := Load(Settings{Config: cfg, BinDir: f.bin, ServiceAccountTokens: TokensWithout})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ps.Names(), ","); got != "fake" {
		t.Errorf("providers %q, want fake alone", got)
	}
	f.answer(t, cacheRegistry, nil, map[string]Credential{"*.registry.io": {Username: "node", Password: "p"}})
	if c, _, ok, err := ps.Lookup(context.Background(), "a.registry.io/app"); !ok || err != nil || c.Username != "node" {
		t.Fatalf("Lookup = %+v, %v, %v", c, ok, err)
	}
	if strings.Contains(f.read(t, "stdin"), "serviceAccountToken") {
		t.Error("the request carries a token")
	}
}

// Each mistake in the kubelet's file is refused at load, naming the file,
// the provider and the field.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	head := "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n"
	prov := func(extra string) string {
		return head + "providers:\n  - name: fake\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    matchImages: [\"*.registry.io\"]\n" + extra
	}
	for body, want := range map[string]string{
		"apiVersion: kubelet.config.k8s.io/v2\nkind: CredentialProviderConfig\n": `apiVersion "kubelet.config.k8s.io/v2"`,
		head:     "providers: at least one",
		prov(""): `providers[0] "fake": defaultCacheDuration is required`,
		prov("    defaultCacheDuration: 1 hour\n"):                                                       `defaultCacheDuration "1 hour"`,
		prov("    defaultCacheDuration: 1m\n    argz: [x]\n"):                                            "field argz not found",
		prov("    defaultCacheDuration: 1m\n    env: [{name: \"A=B\"}]\n"):                               `env "A=B"`,
		strings.Replace(prov("    defaultCacheDuration: 1m\n"), "name: fake", "name: ../fake", 1):        "name must be a file name",
		strings.Replace(prov("    defaultCacheDuration: 1m\n"), "name: fake", "name: absent", 1):         "plugin binary: stat",
		strings.Replace(prov("    defaultCacheDuration: 1m\n"), "provider.kubelet.k8s.io/v1", "x/v1", 1): `apiVersion "credentialx/v1"`,
	} {
		p := f.config(t, body)
		_, err := Load(Settings{Config: p, BinDir: f.bin})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s\n=> %v\nwant %q and the file", body, err, want)
		}
	}
	if _, err := Load(Settings{Config: f.config(t, oneProvider)}); err == nil || !strings.Contains(err.Error(), "bin_dir") {
		t.Errorf("no bin dir: %v", err)
	}
	if _, err := Load(Settings{Config: f.config(t, oneProvider), BinDir: f.bin, ServiceAccountTokens: "mint"}); err == nil || !strings.Contains(err.Error(), "service_account_tokens") {
		t.Errorf("bad mode: %v", err)
	}
}

// A directory of configs is read in name order, JSON beside YAML, and a
// provider declared twice is refused, as the kubelet does since 1.34.
func TestConfigDirectory(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	if err := os.WriteFile(filepath.Join(f.bin, "second"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.json", `{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"second","apiVersion":"credentialprovider.kubelet.k8s.io/v1","matchImages":["x.io"],"defaultCacheDuration":"0s"}]}`)
	write("a.yaml", oneProvider)
	write("notes.txt", "ignored")
	ps, err := Load(Settings{Config: dir, BinDir: f.bin, ExecTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ps.Names(), ","); got != "fake,second" {
		t.Errorf("providers %q", got)
	}
	write("c.yml", oneProvider)
	if _, err := Load(Settings{Config: dir, BinDir: f.bin}); err == nil || !strings.Contains(err.Error(), `provider "fake" is also declared in`) {
		t.Errorf("duplicate: %v", err)
	}
}
