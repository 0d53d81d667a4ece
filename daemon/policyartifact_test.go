package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
)

// pushPolicyArtifact builds a policy artifact of body, pushes it to ref
// unsigned, and returns its digest.
func pushPolicyArtifact(t *testing.T, ref, body string) name.Digest {
	t.Helper()
	img, _, err := policysource.Build([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return pushArtifact(t, ref, img)
}

// pushArtifact pushes img to ref and returns its digest.
func pushArtifact(t *testing.T, ref string, img v1.Image) name.Digest {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return r.Context().Digest(dg.String())
}

// publishBody pushes a policy artifact of body to ref and signs it with s.
func publishBody(t *testing.T, ref, body string, s *sigtest.Signer) name.Digest {
	t.Helper()
	d := pushPolicyArtifact(t, ref, body)
	if err := s.SignLegacy(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// sourcedConfig writes a daemon config in a new directory: no containerd,
// no metrics, its state in state, its policy from the [policy_source]
// line source, signed by signerPEM's key. It returns the config's path
// and the state directory.
func sourcedConfig(t *testing.T, source, signerPEM string) (cfg, state string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "config.toml")
	state = filepath.Join(dir, "state")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n[policy_source]\n%s\n[policy_source.cosign]\nkeys = [\"security\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), state, signerPEM, source)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, state
}
