package integration

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/sigtest"
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
