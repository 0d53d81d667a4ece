package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// publishPolicy pushes a policy artifact of serial whose one policy is
// named policy (allowing every image) to ref, and returns its digest.
func publishPolicy(t *testing.T, ref string, serial int, policy string) name.Digest {
	t.Helper()
	return pushPolicyArtifact(t, ref, fmt.Sprintf("serial = %d\nexpires = "+policytest.Soon+"\n[[policy]]\nname = %q\nscopes = [\"**\"]\nmode = \"allow\"\n", serial, policy))
}

// The node takes a newer signed policy and refuses, keeping the one in
// force, an unsigned one, one signed by another key, one whose signature
// names another digest, and a replayed older one; the refusals are counted
// and kept for doctor; past max_staleness with the source gone it denies;
// a restart with the source gone runs the last verified policy.
func TestPolicySourceRefusesAndKeeps(t *testing.T) {
	host := srvHost(t)
	signer, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	img := mustPush(t, host.host+"/team/app:v1")
	ref := host.host + "/signgate/policy:prod"
	cfg, state := sourcedConfig(t, fmt.Sprintf("reference = %q\nrefresh = \"1m\"\nmax_staleness = \"10m\"\non_stale = \"deny\"", ref), signer.PublicPEM())
	logs := &syncedBuffer{}
	start := func() *Daemon {
		d, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d := start()
	d.ps.now = func() time.Time { return now }
	ctx := t.Context()
	decide := func(d *Daemon) *verify.Verdict {
		return d.Decide(ctx, verify.Request{Image: img, Platform: img.DigestStr()})
	}
	if v := decide(d); v.Allowed || v.Cause != verify.CauseNoPolicy {
		t.Fatalf("before any policy was verified: %+v", v)
	}
	inForce := func(serial int, policy string) {
		t.Helper()
		if got := testutil.ToFloat64(d.ps.metrics.serial); got != float64(serial) {
			t.Errorf("signgate_policy_serial = %v, want %d", got, serial)
		}
		if ps := d.config().Policies; len(ps) != 1 || ps[0].Name != policy {
			t.Errorf("policies in force: %+v, want %s", ps, policy)
		}
	}
	refused := func(reason string) {
		t.Helper()
		before := testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues(reason))
		err := d.RefreshPolicy(ctx)
		if got := policysource.Reason(err); got != reason {
			t.Fatalf("refresh: %v (reason %q), want refused as %s", err, got, reason)
		}
		if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues(reason)) != before+1 {
			t.Errorf("refusal %s not counted", reason)
		}
		k, err := policysource.ReadKept(state)
		if err != nil || k.LastRefusal == nil || k.LastRefusal.Reason != reason {
			t.Errorf("refusal not kept for doctor: %+v %v", k, err)
		}
	}

	one := publishPolicy(t, ref, 1, "one")
	if err := signer.SignLegacy(one); err != nil {
		t.Fatal(err)
	}
	if err := d.RefreshPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	inForce(1, "one")
	if v := decide(d); !v.Allowed {
		t.Fatalf("under policy one: %+v", v)
	}

	publishPolicy(t, ref, 2, "unsigned")
	refused("unsigned")
	inForce(1, "one")
	// Refused again at the next refresh, it is counted once.
	if err := d.RefreshPolicy(ctx); policysource.Reason(err) != "unsigned" || testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("unsigned")) != 1 {
		t.Errorf("the same unsigned policy again: %v, counted %v", err, testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("unsigned")))
	}

	other := publishPolicy(t, ref, 3, "other-key")
	if err := stranger.SignLegacy(other); err != nil {
		t.Fatal(err)
	}
	refused("untrusted")
	inForce(1, "one")

	// A signature by the right key, copied from policy one.
	copied := publishPolicy(t, ref, 4, "copied-signature")
	if err := signer.SignLegacyClaiming(copied, one); err != nil {
		t.Fatal(err)
	}
	refused("untrusted")
	inForce(1, "one")

	five := publishPolicy(t, ref, 5, "five")
	if err := signer.SignLegacy(five); err != nil {
		t.Fatal(err)
	}
	if err := d.RefreshPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	inForce(5, "five")

	// Policy one again: signed as it once was, replayed.
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(tag, mustImage(t, one)); err != nil {
		t.Fatal(err)
	}
	refused("rollback")
	inForce(5, "five")

	// The source goes away: within max_staleness the policy stays; past it, deny.
	host.srv.Close()
	now = now.Add(5 * time.Minute)
	if err := d.RefreshPolicy(ctx); err == nil || policysource.Reason(err) != "" {
		t.Fatalf("registry down: %v", err)
	}
	if v := decide(d); !v.Allowed {
		t.Fatalf("within max_staleness: %+v", v)
	}
	// Past max_staleness, denied at once: no refresh needs to run first.
	now = now.Add(10 * time.Minute)
	if v := decide(d); v.Allowed || !strings.Contains(v.Reason, "max_staleness") || !strings.Contains(v.Reason, "serial 5") {
		t.Fatalf("past max_staleness: %+v", v)
	}
	_ = d.RefreshPolicy(ctx)
	if testutil.ToFloat64(d.ps.metrics.stale) != 1 {
		t.Error("signgate_policy_stale is not 1")
	}

	// A restart with the registry down starts with the last verified policy.
	d = start()
	inForce(5, "five")

	// A reload cannot drop the source for a local policy: refused, the
	// signed one stays.
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Split(string(body), "[policy_source]")[0]+"[[policy]]\nname = \"local\"\nscopes = [\"**\"]\nmode = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil || !strings.Contains(err.Error(), "[policy_source] added or removed") {
		t.Fatalf("reload without the source: %v", err)
	}
	inForce(5, "five")
}

func mustImage(t *testing.T, d name.Digest) remote.Taggable {
	t.Helper()
	desc, err := remote.Get(d)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// watch_config sees the policy source's signer key file change: the
// local file names it, not the signed policy.
func TestWatchSeesTheSourceSignerKey(t *testing.T) {
	dir := t.TempDir()
	a, b := mustSigner(t), mustSigner(t)
	key := filepath.Join(dir, "security.pub")
	if err := os.WriteFile(key, []byte(a.PublicPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("[daemon]\nstate_dir = %q\n[keys.security]\npath = %q\n[policy_source]\nreference = \"registry.example/security/policy:prod\"\n[policy_source.cosign]\nkeys = [\"security\"]\n", filepath.Join(dir, "state"), key)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := setup.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	before := fingerprint(cfg)
	if err := os.WriteFile(key, []byte(b.PublicPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	if fingerprint(cfg) == before {
		t.Error("a rotated signer key file is not seen by watch_config")
	}
}

// A node without a registry takes its policy from a directory: an OCI
// layout exported from the registry with its signature, verified as the
// registry's copy is; one exported without a signature is refused.
func TestPolicySourceFromALayout(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	ref := host.host + "/signgate/policy:prod"
	dir := t.TempDir()
	signed := publishPolicy(t, ref, 1, "from-layout")
	layout := filepath.Join(dir, "layout")
	unsigned := filepath.Join(dir, "unsigned")
	if _, err := policysource.Export(t.Context(), signed, unsigned); err != nil {
		t.Fatal(err)
	}
	if err := signer.SignLegacy(signed); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policysource.Export(t.Context(), tag, layout); err != nil {
		t.Fatal(err)
	}
	host.srv.Close() // the node reaches no registry
	cfg := filepath.Join(dir, "config.toml")
	write := func(path string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n[policy_source]\npath = %q\n[policy_source.cosign]\nkeys = [\"security\"]\n",
			filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state-"+filepath.Base(path)), signer.PublicPEM(), path)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(unsigned)
	d := mustNew(t, cfg)
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "unsigned" {
		t.Fatalf("a layout without the signature: %v", err)
	}
	write(layout)
	if d, err = New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, d)
	if ps := d.config().Policies; len(ps) != 1 || ps[0].Name != "from-layout" || testutil.ToFloat64(d.ps.metrics.serial) != 1 {
		t.Fatalf("policies from the layout: %+v", ps)
	}
}
