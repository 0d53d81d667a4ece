package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// A restarted signgate (a rollout: SIGTERM, then the new process) asks the
// registry nothing about an image it verified before, and a container from
// it is created at once; a key that changed while signgate was down drops
// the verdict, and the image is judged anew (issue 30, item 1).
func TestRestartAsksTheRegistryNothing(t *testing.T) {
	e := need(t)
	pod, podCfg := e.pod("default")
	const repo = "restart/app"
	d := e.image(repo, "k1")
	id, err := e.Create(pod, podCfg, d.String())
	mustAllow(t, id, err)
	first := len(e.Proxy.SigngateRequests(repo))
	if first == 0 {
		t.Fatal("signgate made no request for the image: nothing to compare a restart with")
	}

	if err := e.StopSigngate(); err != nil {
		t.Fatal(err)
	}
	mark := e.logMark()
	if err := e.StartSigngate(); err != nil {
		t.Fatal(err)
	}
	id, err = e.Create(pod, podCfg, d.String())
	mustAllow(t, id, err)
	if asked := e.Proxy.SigngateRequests(repo)[first:]; len(asked) != 0 {
		t.Fatalf("after the restart signgate asked the registry %q about an image it had verified", asked)
	}
	if lines := e.waitLogLines(mark, `msg="restored kept verdicts"`); len(lines) == 0 || strings.Contains(lines[0], "restored=0") {
		t.Fatalf("signgate restored no verdict: %q\n%s", lines, e.logSince(mark))
	}
	if lines := e.logLines(mark, `msg="signgate `, "digest="+d.DigestStr(), "cached=true"); len(lines) == 0 {
		t.Fatalf("the creation after the restart was not decided from the kept verdict:\n%s", e.logSince(mark))
	}

	// k1's file now holds a new key: same config text, other key material
	// (a rotation while signgate was down). The kept verdict rested on k1's
	// old key and must not be taken back.
	k1 := filepath.Join(e.Dir, "keys", "k1.pub")
	old, err := os.ReadFile(k1)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rotated := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	t.Cleanup(func() {
		if err := os.WriteFile(k1, old, 0o644); err != nil {
			t.Error(err)
		}
		if err := e.RestartSigngate(harness.DefaultSigngateConfig(e.Env)); err != nil {
			t.Error(err)
		}
	})
	if err := e.StopSigngate(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k1, rotated, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.StartSigngate(); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(pod, podCfg, d.String())
	mustDeny(t, err, d.DigestStr())
	if len(e.Proxy.SigngateRequests(repo)) == first {
		t.Fatal("the image was denied without being verified anew")
	}
}
