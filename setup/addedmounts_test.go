package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// TestAddedMountSourcesThatAllowNothingAreRefused: a listed directory that
// is a link to / (above every runtime's state), or that lies where
// containers write, would let no added mount through: a mistake, refused
// at load naming the file, the key and why. A plain directory is kept.
func TestAddedMountSourcesThatAllowNothingAreRefused(t *testing.T) {
	dir := t.TempDir()
	plain, root := filepath.Join(dir, "nvidia"), filepath.Join(dir, "root")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", root); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.toml") // not beside what it lists
	body := "[added_mounts]\nallowed_sources = [\"" + plain + "\", \"" + root + "\", \"/srv/x/pods/u/volumes/v\", \"relative\"]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Load(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{path, "added_mounts.allowed_sources[1]", "a link to /", "added_mounts.allowed_sources[2]", "pod volumes", "added_mounts.allowed_sources[3]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\nwant %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "allowed_sources[0]") {
		t.Errorf("a plain directory refused: %v", err)
	}
	if strings.Count(err.Error(), "allowed_sources[3]") != 1 {
		t.Errorf("a relative path is said once: %v", err)
	}
}

// TestAddedMountSourcesNearWhatRunsAreRefused: a listed directory is
// bound read-only, but what lies at, above or in signgate's config, the
// runtimes' or CDI's config, a hook's program or signgate's own binary
// tells what runs: refused at load naming the file, the key and the
// directory. So is one another user could swap (a directory on its path
// writable by others), naming the component; one not there is warned of.
func TestAddedMountSourcesNearWhatRunsAreRefused(t *testing.T) {
	cfgDir, dir := t.TempDir(), t.TempDir()
	path := filepath.Join(cfgDir, "config.toml")
	hooks, open, plain := filepath.Join(dir, "hooks"), filepath.Join(dir, "open"), filepath.Join(dir, "plain")
	for _, d := range []string{filepath.Join(hooks, "in"), filepath.Join(open, "lib"), plain} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		"/etc/containerd":          "/etc/containerd",
		"/etc/containerd/certs.d":  "/etc/containerd",
		"/etc":                     "/etc/",
		"/etc/crio":                "/etc/crio",
		"/etc/cdi":                 "/etc/cdi",
		"/var/run/cdi":             "/var/run/cdi",
		"/etc/containers":          "/etc/containers",
		"/etc/signgate":            "/etc/signgate",
		cfgDir:                     cfgDir,
		filepath.Dir(cfgDir):       cfgDir,
		hooks:                      hooks,
		filepath.Join(hooks, "in"): hooks,
		filepath.Dir(exe):          filepath.Dir(exe),
		filepath.Join(open, "lib"): open + " is writable by others",
	} {
		body := "[hooks]\nallowed_programs = [\"" + filepath.Join(hooks, "nvidia-hook") + "\"]\n[added_mounts]\nallowed_sources = [\"" + plain + "\", \"" + src + "\"]\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := setup.Load(path)
		if err == nil {
			t.Errorf("%s listed: accepted", src)
			continue
		}
		for _, w := range []string{path, "added_mounts.allowed_sources[1]", want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s listed: %v\nwant %q", src, err, w)
			}
		}
		if strings.Contains(err.Error(), "allowed_sources[0]") {
			t.Errorf("a plain directory refused: %v", err)
		}
	}
	absent := filepath.Join(dir, "absent")
	body := "[added_mounts]\nallowed_sources = [\"" + plain + "\", \"" + absent + "\"]\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(path)
	if err != nil {
		t.Fatalf("a directory not there listed: %v", err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "signgate cannot see "+absent) {
		t.Errorf("a directory not there listed: warnings %q", w)
	}
}
