package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
)

// mustNew starts a daemon from the config at cfg, its logs and records
// discarded.
func mustNew(t *testing.T, cfg string) *Daemon {
	t.Helper()
	d, err := New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mustRefresh refreshes d's policy: a refusal fails the test.
func mustRefresh(t *testing.T, d *Daemon) {
	t.Helper()
	if err := d.RefreshPolicy(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// mustPush pushes a new unsigned image to ref and returns its digest.
func mustPush(t *testing.T, ref string, opts ...remote.Option) name.Digest {
	t.Helper()
	img, err := sigtest.PushImage(ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// delegation is the setup of a delegation test: a registry, the root's
// and team-a's signers, and the root's and team-a's policy references on
// it.
type delegation struct {
	host               registryServer
	root, tenant       *sigtest.Signer
	rootRef, tenantRef string
}

func newDelegation(t *testing.T) delegation {
	t.Helper()
	host := srvHost(t)
	return delegation{host: host, root: mustSigner(t), tenant: mustSigner(t),
		rootRef: host.host + "/security/policy:prod", tenantRef: host.host + "/team-a/policy:prod"}
}

// app pushes team-a's unsigned app:v1.
func (f delegation) app(t *testing.T) name.Digest {
	t.Helper()
	return mustPush(t, f.host.host+"/team-a/app:v1")
}

// daemon starts a daemon whose policy source is the root's reference,
// signed by the root's key; its policy clock reads the time returned,
// which the test moves.
func (f delegation) daemon(t *testing.T) (*Daemon, *time.Time) {
	t.Helper()
	d, _ := sourcedDaemon(t, fmt.Sprintf("reference = %q", f.rootRef), f.root.PublicPEM())
	now := time.Now()
	d.ps.now = func() time.Time { return now }
	return d, &now
}

// fragment is team-a's fragment at serial, with the expires line given
// whole ("" for none), allowing team-a's images in team-a.
func (f delegation) fragment(serial int, expires string) string {
	return fmt.Sprintf("serial = %d\n%s[[policy]]\nname = \"apps\"\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nmode = \"allow\"\n", serial, expires, f.host.host)
}

// keyedConfig writes, in dir, a daemon config with no containerd and no
// metrics, trusting signerPEM as key k, with one policy "apps" over every
// image whose further lines are policy; it returns the config's path.
func keyedConfig(t *testing.T, dir, signerPEM, policy string) string {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.k]\npem = '''\n%s'''\n[[policy]]\nname = \"apps\"\nscopes = [\"**\"]\n%s\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), signerPEM, policy)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
