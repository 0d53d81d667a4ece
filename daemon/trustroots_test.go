package daemon

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/internal/testkit/tuftest"
	"github.com/signgate/signgate/keystore/tufroot"
)

// A trust root kept from a TUF repository: fetched, reloaded into the
// engine, updated when the repository publishes a new one, kept when the
// repository fails, and used last-known-good by the next start.
func TestTrustRootFromTUF(t *testing.T) {
	dir := t.TempDir()
	repo, err := tuftest.New(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repo.Dir)))
	defer srv.Close()
	publish := func() {
		t.Helper()
		b, err := sigtest.NewTrustedRootJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.SetTarget(tufroot.Target, b); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	pinned, _ := repo.RootJSON()
	if err := os.WriteFile(filepath.Join(dir, "root.json"), pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeTUFConfig(t, dir, srv.URL, "")
	var log strings.Builder
	d, err := New(cfg, slog.New(slog.NewTextHandler(&log, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine().Snapshot().Signers["release"] != nil || !strings.Contains(log.String(), "has not been fetched") {
		t.Fatalf("before the first update the identity must verify nothing, and the log say so:\n%s", log.String())
	}
	src := d.config().TUF[0]
	fails := map[string]int{}
	inForce := func() string {
		if s := d.Engine().Snapshot().Signers["release"]; s != nil {
			return s.Root.Digest
		}
		return ""
	}

	if next := d.refreshTrustRoot(src, fails); next < 54*time.Minute || next > 66*time.Minute {
		t.Fatalf("next update in %s, want about refresh = 1h", next)
	}
	first := inForce()
	if first == "" {
		t.Fatalf("the fetched trust root is not in force:\n%s", log.String())
	}
	d.refreshTrustRoot(src, fails)
	if inForce() != first || testutil.ToFloat64(d.metrics.rootRefresh.WithLabelValues("mirror", "unchanged")) != 1 {
		t.Fatal("an unchanged repository changed the trust root in force")
	}

	publish()
	d.refreshTrustRoot(src, fails)
	second := inForce()
	if second == "" || second == first {
		t.Fatal("the newly published trust root is not in force")
	}

	// The repository fails: the last-known-good stays, retried soon.
	if err := repo.ExpireTimestamp(); err != nil {
		t.Fatal(err)
	}
	if next := d.refreshTrustRoot(src, fails); next != 5*time.Second {
		t.Fatalf("retry in %s, want 5s", next)
	}
	if next := d.refreshTrustRoot(src, fails); next != 10*time.Second {
		t.Fatalf("then in %s, want 10s", next)
	}
	if inForce() != second || !strings.Contains(log.String(), "the last-known-good stays in force") {
		t.Fatalf("after a failed update the trust root in force changed, or the log did not say:\n%s", log.String())
	}
	// signgate keys list shows both, and why.
	var listed []string
	for _, k := range d.Keys() {
		listed = append(listed, fmt.Sprintf("%s|%s|%s|%s", k.Name, k.Fingerprint, k.State, k.LastError))
	}
	got := strings.Join(listed, "\n")
	if !strings.Contains(got, "mirror|"+second+"|current (last-known-good)|") || !strings.Contains(got, "expired") || !strings.Contains(got, "release||current|") {
		t.Fatalf("keys list:\n%s", got)
	}

	// A restart with the repository down starts on the last-known-good.
	srv.Close()
	d2 := mustNew(t, cfg)
	if s := d2.Engine().Snapshot().Signers["release"]; s == nil || s.Root.Digest != second {
		t.Fatal("a restart did not start on the last-known-good trust root")
	}
}

// A trust root whose mirror stops vouching for it goes stale: the log says
// so once, naming it and how stale it is, the metrics show it, and an
// update that vouches for the same trust root again renews it in place
// (verdicts kept) and says it is fresh.
func TestTrustRootStalenessIsReported(t *testing.T) {
	dir := t.TempDir()
	repo, err := tuftest.New(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repo.Dir)))
	defer srv.Close()
	b, err := sigtest.NewTrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.SetTarget(tufroot.Target, b); err != nil {
		t.Fatal(err)
	}
	pinned, _ := repo.RootJSON()
	if err := os.WriteFile(filepath.Join(dir, "root.json"), pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeTUFConfig(t, dir, srv.URL, `max_staleness = "3h"`)
	var log strings.Builder
	d, err := New(cfg, slog.New(slog.NewTextHandler(&log, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	src := d.config().TUF[0]
	d.refreshTrustRoot(src, map[string]int{})
	tr := d.config().TrustRoots["mirror"]
	if tr.Material == nil || tr.NotAfter.Sub(tr.Verified) != 3*time.Hour {
		t.Fatalf("the fetched trust root is not trusted for max_staleness: %+v", tr)
	}
	stale := testutil.ToFloat64
	d.checkTrustRoots(tr.Verified.Add(time.Hour))
	if stale(d.metrics.rootStale.WithLabelValues("mirror")) != 0 || stale(d.metrics.rootUntil.WithLabelValues("mirror")) != float64(tr.NotAfter.Unix()) {
		t.Fatal("a fresh trust root's metrics")
	}

	// The mirror is gone; four hours on, the trust root is stale, and the
	// running containers are judged again (once).
	srv.Close()
	d.refreshTrustRoot(src, map[string]int{})
	judging := func() string {
		select {
		case why := <-d.running.due:
			return why
		default:
			return ""
		}
	}
	judging() // the first update's reload
	d.checkTrustRoots(tr.Verified.Add(4 * time.Hour))
	if why := judging(); why != "trust root mirror went stale or fresh" {
		t.Fatalf("a trust root gone stale judges the running containers for %q", why)
	}
	d.checkTrustRoots(tr.Verified.Add(5 * time.Hour)) // said once
	if why := judging(); why != "" {
		t.Fatalf("judged again for %q", why)
	}
	if stale(d.metrics.rootStale.WithLabelValues("mirror")) != 1 {
		t.Fatal("signgate_trust_root_stale is not 1")
	}
	if n := strings.Count(log.String(), "trust root is stale"); n != 1 || !strings.Contains(log.String(), `trust root \"mirror\" is stale`) || !strings.Contains(log.String(), "4h0m0s ago") {
		t.Fatalf("the log does not say once which trust root is stale and since when (%d):\n%s", n, log.String())
	}

	// The mirror is back and vouches for the same trust root: renewed in
	// place, the engine's verdicts kept.
	srv2 := httptest.NewServer(http.FileServer(http.Dir(repo.Dir)))
	defer srv2.Close()
	src.Mirror = srv2.URL
	before := d.Engine().Snapshot().ID
	d.refreshTrustRoot(src, map[string]int{})
	renewed := d.config().TrustRoots["mirror"]
	if !renewed.Verified.After(tr.Verified) || renewed.Digest != tr.Digest || d.Engine().Snapshot().ID != before {
		t.Fatalf("not renewed in place: %+v (snapshot %s, was %s)", renewed, d.Engine().Snapshot().ID, before)
	}
	if sg := d.Engine().Snapshot().Signers["release"]; sg == nil || !sg.Root.NotAfter.Equal(renewed.NotAfter) {
		t.Fatal("the engine's identity is not under the renewed trust root")
	}
	d.checkTrustRoots(renewed.Verified.Add(time.Minute))
	if stale(d.metrics.rootStale.WithLabelValues("mirror")) != 0 || !strings.Contains(log.String(), "trust root is fresh again") {
		t.Fatalf("fresh again is not reported:\n%s", log.String())
	}
	if why := judging(); why != "trust root mirror went stale or fresh" {
		t.Fatalf("a trust root fresh again judges the running containers for %q", why)
	}
}

// writeTUFConfig writes a daemon config whose one identity rests on a trust
// root from the TUF mirror at mirror; extra goes into that trust root.
func writeTUFConfig(t *testing.T, dir, mirror, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(`[daemon]
containerd_socket = %q
state_dir = %q
[trust_roots.mirror]
tuf_mirror = %q
tuf_root = "root.json"
refresh = "1h"
%s
[identities.release]
trust_root = "mirror"
issuer = "https://token.actions.githubusercontent.com"
subject = "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"
[[policy]]
name = "apps"
scopes = ["**"]
  [policy.cosign]
  identities = ["release"]
`, filepath.Join(dir, "none.sock"), filepath.Join(dir, "state"), mirror, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
