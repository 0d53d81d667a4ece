package tufroot_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/sigtest"
	"github.com/signgate/signgate/internal/tuftest"
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
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRefreshFollowsTheRepository(t *testing.T) {
	repo, src, _ := setup(t)
	first := trustedRoot(t)
	if err := repo.SetTarget(tufroot.Target, first); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Refresh(); err != nil {
		t.Fatal(err)
	}
	if string(kept(t, src)) != string(first) {
		t.Fatal("the kept trust root is not the published one")
	}
	if _, err := src.Refresh(); !errors.Is(err, tufroot.ErrUnchanged) {
		t.Fatalf("a second refresh: %v", err)
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
	if _, err := src.Refresh(); err != nil {
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
			if _, err := src.Refresh(); err != nil {
				t.Fatal(err)
			}
			if c.name == "tampered target" {
				// The client keeps verified targets; make it fetch again.
				if err := os.RemoveAll(filepath.Join(src.StateDir, "tuf")); err != nil {
					t.Fatal(err)
				}
			}
			c.break_(t, repo, srv)
			_, err := src.Refresh()
			if err == nil || errors.Is(err, tufroot.ErrUnchanged) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refresh: %v; want an error about %q", err, c.want)
			}
			t.Log(err)
			if string(kept(t, src)) != string(good) {
				t.Fatal("the last-known-good trust root was replaced")
			}
		})
	}
}
