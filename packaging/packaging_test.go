// Package packaging_test installs the Debian package on this machine with
// dpkg, checks what it put where, and purges it again.
package packaging_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestDebianPackage(t *testing.T) {
	deb := os.Getenv("SIGNGATE_TEST_DEB")
	if deb == "" {
		testenv.Skip(t, "SIGNGATE_TEST_DEB is not set; run `make packaging`")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "dpkg -i needs root")
	}
	noDropIn(t)
	run(t, "dpkg", "-i", deb)
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "signgate").Run() })

	if out := run(t, "/usr/bin/signgate", "version"); !strings.HasPrefix(out, "signgate ") {
		t.Errorf("signgate version: %q", out)
	}
	for path, want := range map[string]os.FileMode{
		"/usr/bin/signgate":                           0o755,
		"/usr/bin/signgate-image-verifier":            0o755,
		"/usr/share/signgate/containerd-2.toml":       0o644,
		"/usr/share/signgate/containerd-1.7.toml":     0o644,
		"/usr/share/signgate/crio-10-signgate.conf":   0o644,
		"/lib/systemd/system/signgate.service":        0o644,
		"/etc/signgate/config.toml":                   0o600,
		"/usr/share/doc/signgate/config.example.toml": 0o644,
	} {
		if got := mode(t, path).Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	if m := mode(t, "/var/lib/signgate"); !m.IsDir() || m.Perm() != 0o700 {
		t.Errorf("/var/lib/signgate: %v", m)
	}

	// The config is a conffile. No containerd drop-in is installed: one
	// would make containerd require signgate before the operator starts it.
	conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "signgate")
	if !strings.Contains(conffiles, "/etc/signgate/config.toml") {
		t.Errorf("conffiles: %q", conffiles)
	}
	if _, err := os.Stat(dropIn); err == nil {
		t.Errorf("installing the package wrote %s", dropIn)
	}
	if listed := run(t, "dpkg", "-L", "signgate"); strings.Contains(listed, "/etc/containerd") {
		t.Errorf("the package owns files in /etc/containerd:\n%s", listed)
	}
	// What it installs works: the config is valid and the unit verifies.
	checked := run(t, "/usr/bin/signgate", "check-config", "--config", "/etc/signgate/config.toml")
	// It audits only, with a placeholder key: valid, but said loudly.
	for _, want := range []string{"WARNING: no policy enforces", "WARNING: keys.placeholder is the packaged placeholder key"} {
		if !strings.Contains(checked, want) {
			t.Errorf("check-config on the packaged config does not warn %q:\n%s", want, checked)
		}
	}
	run(t, "systemd-analyze", "verify", "/lib/systemd/system/signgate.service")

	// An upgrade (here: installing again) keeps the operator's config.
	edited := "# edited by the operator\n" + string(must(os.ReadFile("/etc/signgate/config.toml")))
	if err := os.WriteFile("/etc/signgate/config.toml", []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "-i", "--force-confold", deb)
	if got := string(must(os.ReadFile("/etc/signgate/config.toml"))); got != edited {
		t.Error("reinstalling overwrote /etc/signgate/config.toml")
	}

	// Purge removes everything.
	run(t, "dpkg", "--purge", "signgate")
	for _, p := range []string{"/usr/bin/signgate", "/usr/share/signgate/containerd-2.toml", "/etc/signgate/config.toml"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there after purge", p)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
