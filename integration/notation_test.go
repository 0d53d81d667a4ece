package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// pushSigned pushes a fresh image, signs it as asked (before the pull, which
// starts a verification), and pulls it into containerd.
func (e *env) pushSigned(repo string, cosignKey string, notation bool) name.Digest {
	e.t.Helper()
	d, err := harness.PushBusybox(e.Registry+"/"+repo+":v1", "sleep", "3600")
	if err != nil {
		e.t.Fatal(err)
	}
	if cosignKey != "" {
		if err := e.Signers[cosignKey].SignBundle(d); err != nil {
			e.t.Fatal(err)
		}
	}
	if notation {
		if err := e.SignNotation(d, sigtest.JWS); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.Pull(e.Registry + "/" + repo + ":v1"); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func TestNotationSignedContainers(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")

	e.pushSigned("notary/app", "", true)
	id, err := e.Create(pod, cfg, e.Registry+"/notary/app:v1")
	mustAllow(t, id, err)

	e.pushSigned("notary/unsigned", "k1", false) // a cosign signature is not what this policy asks for
	_, err = e.Create(pod, cfg, e.Registry+"/notary/unsigned:v1")
	mustDeny(t, err, `policy "notary"`, "no Notary Project signatures found")

	e.pushSigned("dualsig/both", "k1", true)
	id, err = e.Create(pod, cfg, e.Registry+"/dualsig/both:v1")
	mustAllow(t, id, err)

	e.pushSigned("dualsig/cosignonly", "k1", false)
	_, err = e.Create(pod, cfg, e.Registry+"/dualsig/cosignonly:v1")
	mustDeny(t, err, "(both of cosign and notation)", "cosign: requires any of k1; verified by k1", "notation: no Notary Project signatures found")
}

// Signatures made by the real notation CLI (v1.3.2), with the test key and
// self-signed certificate it generates, both envelope formats.
func TestRealNotationCLI(t *testing.T) {
	e := need(t)
	home := filepath.Join(e.Dir, "notation-home")
	notation := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(e.Bin, "notation"), args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	notation("cert", "generate-test", "--default", "signgate-cli")
	crt := filepath.Join(home, ".config", "notation", "localkeys", "signgate-cli.crt")

	// notation writes the referrers tag schema unless told to use the
	// referrers API: that is how distribution 2.8 gets it; on olareg it is
	// told to, and the signature is a referrer.
	var imgs []string
	for _, reg := range []string{e.Registry, e.Referrers} {
		for _, format := range []string{"jws", "cose"} {
			ref := reg + "/notary-cli/" + format + ":v1"
			d, err := harness.PushBusybox(ref, "sleep", "3600")
			if err != nil {
				t.Fatal(err)
			}
			notation("sign", "--insecure-registry", "--signature-format", format, fmt.Sprintf("--force-referrers-tag=%v", reg == e.Registry), d.String())
			referrers, tags, err := harness.Stored(d)
			if err != nil {
				t.Fatal(err)
			}
			if reg == e.Referrers && (len(referrers) != 1 || referrers[0] != "application/vnd.cncf.notary.signature" || len(tags) != 0) {
				t.Fatalf("%s: want one notation referrer and no tag; referrers %q, tags %q", ref, referrers, tags)
			}
			if reg == e.Registry && (referrers != nil || len(tags) != 1) {
				t.Fatalf("%s: want the fallback tag; referrers %q, tags %q", ref, referrers, tags)
			}
			if err := e.Pull(ref); err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, ref)
		}
	}

	good := e.SigngateConfig()
	defer e.ReloadSigngate(good)
	cfg := strings.Replace(good, "[[policy]]\nname = \"apps\"", fmt.Sprintf(`[[policy]]
name = "notary-cli"
scopes = ["%s/notary-cli/*", "%s/notary-cli/*"]
  [policy.notation]
  certs = ["notation-cli"]
  trusted_identities = ["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=signgate-cli"]

[[policy]]
name = "apps"`, e.Registry, e.Referrers), 1) + fmt.Sprintf("\n[certs.notation-cli]\npath = %q\n", crt)
	if ok, err := e.ReloadSigngate(cfg); !ok || err != nil {
		t.Fatalf("reload with the notation CLI's certificate: %v %v\n%s", ok, err, e.SigngateLog.String())
	}
	pod, podCfg := e.pod("default")
	for _, img := range imgs {
		id, err := e.Create(pod, podCfg, img)
		mustAllow(t, id, err)
	}
}

// signgate verify explains notation-signed, dual-signed and untrusted images.
func TestVerifyCommandExplainsNotation(t *testing.T) {
	e := need(t)
	signed := e.pushSigned("notary/explain-signed", "", true)
	dual := e.pushSigned("dualsig/explain", "k1", true)
	untrusted, err := harness.PushBusybox(e.Registry+"/notary/explain-untrusted:v1", "sleep", "1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewPKI("someone else")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := registry.New(registry.Config{})
	repo, _ := c.Repository(untrusted.Context())
	if err := other.SignNotation(context.Background(), repo, untrusted, sigtest.COSE); err != nil {
		t.Fatal(err)
	}
	verify := func(img name.Digest) (string, int) {
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "verify", "--config", filepath.Join(e.Dir, "signgate.toml"), img.String()).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	for _, c := range []struct {
		img   name.Digest
		code  int
		parts []string
	}{
		{signed, 0, []string{"ALLOW", `policy "notary"`, "notation: requires any of n1 (level strict); roots verified: n1", "root n1", "signed by CN=signgate integration"}},
		{dual, 0, []string{"ALLOW", "(both of cosign and notation)", "cosign:   requires any of k1; keys verified: k1", "notation: requires any of n1"}},
		{untrusted, 1, []string{"DENY", "roots verified: none", "root n1", "certificate chain does not contain any trusted certificate"}},
	} {
		out, code := verify(c.img)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.img, code, c.code, out)
		}
		for _, p := range c.parts {
			if !strings.Contains(out, p) {
				t.Errorf("%s: output lacks %q\n%s", c.img, p, out)
			}
		}
	}
}
