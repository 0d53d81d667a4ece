package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// Managed signing services through containerd (issue 33): an image an AWS
// Signer-style service signed (notary.x509.signingAuthority, naming its
// verification plugin) runs; one whose signing profile the service says is
// revoked does not; one naming a plugin the config does not name does not,
// and that plugin, planted in notation's own plugin directory, never runs.
// A signature whose 3-day certificate expired last week runs through its
// RFC 3161 timestamp.
func TestManagedSigningServices(t *testing.T) {
	e := need(t)
	dir := filepath.Join(e.Dir, "managed")
	const (
		profile = "arn:aws:signer:us-west-2:123456789012:/signing-profiles/app"
		revoked = "arn:aws:signer:us-west-2:123456789012:/signing-profiles/retired"
		planted = "io.signgate.test.planted"
	)
	plugin, err := sigtest.BuildAuthorityPlugin(filepath.Join(dir, "plugins"), sigtest.AuthorityPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := (sigtest.AuthorityService{Revoked: []string{revoked}, Ran: filepath.Join(dir, "ran")}).Write(plugin); err != nil {
		t.Fatal(err)
	}
	// notation's default plugin directory, as signgate's process would
	// find it (it inherits this environment).
	userConfig, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	plantedDir := filepath.Join(userConfig, "notation", "plugins", planted)
	t.Cleanup(func() {
		os.RemoveAll(plantedDir)
		// The directories above it, if the test made them (empty).
		os.Remove(filepath.Dir(plantedDir))
		os.Remove(filepath.Dir(filepath.Dir(plantedDir)))
	})
	plantedPath, err := sigtest.BuildAuthorityPlugin(plantedDir, planted)
	if err != nil {
		t.Fatal(err)
	}
	plantedRan := filepath.Join(dir, "planted-ran")
	if err := (sigtest.AuthorityService{Ran: plantedRan}).Write(plantedPath); err != nil {
		t.Fatal(err)
	}

	service, err := sigtest.NewPKI("signing service")
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().Add(-10 * 24 * time.Hour)
	short, err := sigtest.NewShortLivedPKIAt("short-lived service", issued, 3*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := sigtest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	pem := func(file, body string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := e.SigngateConfig()
	defer e.ReloadSigngate(good)
	cfg := strings.Replace(good, "[[policy]]\nname = \"apps\"", fmt.Sprintf(`[[policy]]
name = "managed"
scopes = ["%[1]s/managed/*"]
  [policy.notation]
  certs = ["signing-service"]
  trusted_identities = [%[2]q, %[3]q]

[[policy]]
name = "short-lived"
scopes = ["%[1]s/shortlived/*"]
  [policy.notation]
  certs = ["short-lived"]
  tsa = ["short-lived-tsa"]

[[policy]]
name = "apps"`, e.Registry, profile, revoked), 1) + fmt.Sprintf(`
[certs.signing-service]
kind = "signing_authority"
path = %q

[certs.short-lived]
path = %q

[certs.short-lived-tsa]
kind = "tsa"
path = %q

[notation_plugins.%q]
path = %q
certs = ["signing-service"]
`, pem("service.pem", service.RootPEM()), pem("short.pem", short.RootPEM()), pem("tsa.pem", tsa.RootPEM()), sigtest.AuthorityPlugin, plugin)
	if ok, err := e.ReloadSigngate(cfg); !ok || err != nil {
		t.Fatalf("reload with a managed signing service: %v %v\n%s", ok, err, e.SigngateLog.String())
	}

	// push pushes a fresh image, signs it with sign (before the pull,
	// which starts a verification) and pulls it.
	push := func(repo string, sign func(*remote.Repository, name.Digest) error) string {
		t.Helper()
		ref := e.Registry + "/" + repo + ":v1"
		d, err := harness.PushBusybox(ref, "sleep", "3600")
		if err != nil {
			t.Fatal(err)
		}
		c, err := registry.New(registry.Config{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Repository(d.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := sign(r, d); err != nil {
			t.Fatal(err)
		}
		if err := e.Pull(ref); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	byService := func(plugin, profileVersion string) func(*remote.Repository, name.Digest) error {
		return func(r *remote.Repository, d name.Digest) error {
			return service.SignNotationAuthority(context.Background(), r, d, sigtest.JWS, plugin, profileVersion)
		}
	}
	pod, podCfg := e.pod("default")

	t.Run("signed by a trusted signing profile runs", func(t *testing.T) {
		id, err := e.Create(pod, podCfg, push("managed/app", byService(sigtest.AuthorityPlugin, profile+"/v1")))
		mustAllow(t, id, err)
	})
	t.Run("revoked signing profile is denied", func(t *testing.T) {
		_, err := e.Create(pod, podCfg, push("managed/retired", byService(sigtest.AuthorityPlugin, revoked+"/v3")))
		mustDeny(t, err, `policy "managed"`, sigtest.AuthorityPlugin, fmt.Sprintf("signing profile %q is revoked", revoked))
	})
	t.Run("a plugin the config does not name is denied and never run", func(t *testing.T) {
		_, err := e.Create(pod, podCfg, push("managed/unnamed", byService(planted, profile+"/v1")))
		mustDeny(t, err, `policy "managed"`, fmt.Sprintf("verification plugin %q", planted), "does not name it under [notation_plugins]")
		if _, err := os.Stat(plantedRan); err == nil {
			t.Fatalf("the plugin planted in %s was run", plantedDir)
		}
	})
	t.Run("an expired short-lived certificate runs through its timestamp", func(t *testing.T) {
		stamped := func(by *sigtest.TSA) func(*remote.Repository, name.Digest) error {
			return func(r *remote.Repository, d name.Digest) error {
				return short.SignNotationAt(context.Background(), r, d, sigtest.JWS, issued.Add(time.Hour), by)
			}
		}
		id, err := e.Create(pod, podCfg, push("shortlived/stamped", stamped(tsa)))
		mustAllow(t, id, err)
		_, err = e.Create(pod, podCfg, push("shortlived/bare", stamped(nil)))
		mustDeny(t, err, `policy "short-lived"`, "no timestamp countersignature")
	})
}
