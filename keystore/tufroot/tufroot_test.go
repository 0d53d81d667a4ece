package tufroot_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/internal/testkit/tuftest"
	"github.com/signgate/signgate/keystore/tufroot"
)

func trustedRoot(t *testing.T) []byte {
	t.Helper()
	b, err := sigtest.NewTrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A repository served over HTTP, and a source pinned to its first root.
func setup(t *testing.T) (*tuftest.Repo, *tufroot.Source, *httptest.Server) {
	t.Helper()
	repo, err := tuftest.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repo.Dir)))
	t.Cleanup(srv.Close)
	pinned, err := repo.RootJSON()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	rootFile := filepath.Join(state, "root.json")
	if err := os.WriteFile(rootFile, pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, &tufroot.Source{Name: "mirror", Mirror: srv.URL, RootFile: rootFile, StateDir: state}, srv
}

func kept(t *testing.T, s *tufroot.Source) []byte {
	t.Helper()
	k, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return k.TrustedRoot
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestRefreshFollowsTheRepository(t *testing.T) {
	repo, src, _ := setup(t)
	first := trustedRoot(t)
	if err := repo.SetTarget(tufroot.Target, first); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := src.Refresh(t0); err != nil || !changed {
		t.Fatal(changed, err)
	}
	if string(kept(t, src)) != string(first) {
		t.Fatal("the kept trust root is not the published one")
	}
	if _, changed, err := src.Refresh(t0); err != nil || changed {
		t.Fatalf("a second refresh: %v %v", changed, err)
	}

	// A new trust root, published after a root key rotation: the client
	// follows the chain of roots from the pinned one.
	second := trustedRoot(t)
	if err := repo.RotateRoot(); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetTarget(tufroot.Target, second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Refresh(t0); err != nil {
		t.Fatalf("after a root rotation: %v", err)
	}
	if string(kept(t, src)) != string(second) {
		t.Fatal("the kept trust root is not the newly published one")
	}
}

// Whatever goes wrong, nothing unverified is written and the last-known-good
// trust root stays.
func TestRefreshKeepsTheLastKnownGood(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(*testing.T, *tuftest.Repo, *httptest.Server)
		want   string
	}{
		{"expired timestamp", func(t *testing.T, r *tuftest.Repo, _ *httptest.Server) {
			if err := r.ExpireTimestamp(); err != nil {
				t.Fatal(err)
			}
		}, "expired"},
		{"tampered target", func(t *testing.T, r *tuftest.Repo, _ *httptest.Server) {
			// A fresh client: nothing cached to mask the mirror's lie.
			if err := r.Tamper(tufroot.Target, trustedRoot(t)); err != nil {
				t.Fatal(err)
			}
		}, "trusted_root.json"},
		{"unreachable mirror", func(t *testing.T, _ *tuftest.Repo, s *httptest.Server) { s.Close() }, "mirror"},
		{"not a trusted root", func(t *testing.T, r *tuftest.Repo, _ *httptest.Server) {
			if err := r.SetTarget(tufroot.Target, []byte(`{"mediaType": "nonsense"}`)); err != nil {
				t.Fatal(err)
			}
		}, "not a Sigstore trusted root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo, src, srv := setup(t)
			good := trustedRoot(t)
			if err := repo.SetTarget(tufroot.Target, good); err != nil {
				t.Fatal(err)
			}
			if _, _, err := src.Refresh(t0); err != nil {
				t.Fatal(err)
			}
			if c.name == "tampered target" {
				// The client keeps verified targets; make it fetch again.
				if err := os.RemoveAll(filepath.Join(src.StateDir, "tuf")); err != nil {
					t.Fatal(err)
				}
			}
			c.break_(t, repo, srv)
			_, _, err := src.Refresh(t0.Add(time.Hour))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refresh: %v; want an error about %q", err, c.want)
			}
			t.Log(err)
			if k, err := src.Load(); err != nil || string(k.TrustedRoot) != string(good) || !k.Verified.Equal(t0) {
				t.Fatal("the last-known-good trust root was replaced, or its verification time moved, by a failed update")
			}
		})
	}
}

// Each verified update records when it ran and until when the repository's
// metadata vouches for the trust root: its staleness counts from these.
func TestRefreshRecordsWhenItVerified(t *testing.T) {
	repo, src, _ := setup(t)
	if err := repo.SetTarget(tufroot.Target, trustedRoot(t)); err != nil {
		t.Fatal(err)
	}
	// The timestamp expires first: it bounds the trust root.
	soon := time.Now().Add(36 * time.Hour).UTC().Truncate(time.Second)
	if err := repo.SetTimestampExpiry(soon); err != nil {
		t.Fatal(err)
	}
	k, changed, err := src.Refresh(t0)
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if !k.Verified.Equal(t0) || !k.Expires.Equal(soon) {
		t.Fatalf("verified %v expires %v; want %v and %v", k.Verified, k.Expires, t0, soon)
	}
	// Unchanged content is kept again, from the later update.
	k, changed, err = src.Refresh(t0.Add(time.Hour))
	if err != nil || changed || !k.Verified.Equal(t0.Add(time.Hour)) {
		t.Fatal(changed, err, k.Verified)
	}
	if l, err := src.Load(); err != nil || !l.Verified.Equal(t0.Add(time.Hour)) || !l.Expires.Equal(soon) {
		t.Fatalf("kept: %+v %v", l, err)
	}
}
