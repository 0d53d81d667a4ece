package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

// dropIn is where docs/install.md has the operator copy the containerd
// drop-in, and where earlier packages installed it.
const dropIn = "/etc/containerd/conf.d/signgate.toml"

// keptDropIn is where preinst moves that drop-in during an upgrade: a name
// containerd still imports.
const keptDropIn = "/etc/containerd/conf.d/signgate-kept.toml"

// noDropIn fails a test that would overwrite this host's drop-in, and
// removes the one the test leaves.
func noDropIn(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(dropIn); err == nil {
		t.Fatalf("%s exists on this host: the package test would replace it", dropIn)
	}
	t.Cleanup(func() {
		_ = os.Remove(dropIn)
		_ = os.Remove(keptDropIn)
		_ = os.Remove(filepath.Dir(dropIn)) // only if empty, as the test made it
	})
}

// oldPackage builds a package as earlier versions were laid out: signgate,
// at a lower version, owning the containerd drop-in.
func oldPackage(t *testing.T, arch string, dropInText []byte) string {
	t.Helper()
	root := t.TempDir()
	for p, b := range map[string][]byte{
		"DEBIAN/control": []byte("Package: signgate\nVersion: 0~old\nArchitecture: " + arch +
			"\nMaintainer: test <test@signgate.dev>\nDescription: signgate as it shipped the drop-in\n"),
		strings.TrimPrefix(dropIn, "/"): dropInText,
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(t.TempDir(), "signgate-old.deb")
	run(t, "dpkg-deb", "--root-owner-group", "--build", root, deb)
	return deb
}

// Upgrading from a package that owned the drop-in keeps it: dpkg would
// delete a file the new version no longer ships, and the node would fail
// open at containerd's next restart. containerd imports a drop-in requiring
// signgate at every step, also between dpkg's unpack and configure, where a
// containerd upgraded in the same apt run may restart. Then removing signgate while that
// drop-in requires it is refused, naming the file: containerd would refuse
// every container, and restarting it would not help.
func TestDebianPackageUpgradeKeepsDropIn(t *testing.T) {
	deb := os.Getenv("SIGNGATE_TEST_DEB")
	if deb == "" {
		testenv.Skip(t, "SIGNGATE_TEST_DEB is not set; run `make packaging`")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "dpkg -i needs root")
	}
	noDropIn(t)
	// The operator's edit, which the kept file must carry.
	text := append([]byte("# edited by the operator\n"), must(os.ReadFile("containerd/signgate.toml"))...)
	arch := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Architecture"))
	run(t, "dpkg", "-i", oldPackage(t, arch, text))
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "signgate").Run() })

	// Each step of the upgrade, as dpkg runs them: at every point a
	// containerd restarted (say, upgraded in the same apt run) must still
	// import a drop-in that requires signgate.
	control := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, control)
	run(t, filepath.Join(control, "preinst"), "upgrade", "0~old")
	importsRequiringDropIn(t, "after preinst")
	run(t, "dpkg", "--unpack", deb)
	importsRequiringDropIn(t, "after dpkg --unpack")
	run(t, "dpkg", "--configure", "signgate")
	importsRequiringDropIn(t, "after dpkg --configure")

	if got, err := os.ReadFile(dropIn); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("the upgrade did not keep %s as it was: %v\n%s", dropIn, err, got)
	}
	if out, err := exec.Command("dpkg-query", "-S", dropIn).CombinedOutput(); err == nil {
		t.Errorf("%s is still a package's file: %s", dropIn, out)
	}
	if left := must(filepath.Glob(filepath.Dir(dropIn) + "/*")); !slices.Equal(left, []string{dropIn}) {
		t.Errorf("after the upgrade %s holds %v, want only %s", filepath.Dir(dropIn), left, dropIn)
	}

	out, err := exec.Command("dpkg", "--purge", "signgate").CombinedOutput()
	if err == nil {
		t.Fatalf("signgate was removed while %s requires it:\n%s", dropIn, out)
	}
	if !strings.Contains(string(out), dropIn) {
		t.Errorf("the refused removal does not name %s:\n%s", dropIn, out)
	}
	// The wanted state is now purge; what counts is that it is installed.
	if status := run(t, "dpkg-query", "-W", "-f=${Status}", "signgate"); !strings.HasSuffix(status, " ok installed") {
		t.Errorf("after the refused removal, signgate is %q", status)
	}

	// Told to go on, it removes signgate and leaves the operator's file.
	cmd := exec.Command("dpkg", "--purge", "signgate")
	cmd.Env = append(os.Environ(), "SIGNGATE_REMOVE_REQUIRED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg --purge with SIGNGATE_REMOVE_REQUIRED=1: %v\n%s", err, out)
	}
	if _, err := os.Stat(dropIn); err != nil {
		t.Errorf("purging signgate removed the operator's %s: %v", dropIn, err)
	}
}

// importsRequiringDropIn fails the test unless a containerd whose config.toml
// imports conf.d/*.toml (docs/install.md) would require signgate.
func importsRequiringDropIn(t *testing.T, when string) {
	t.Helper()
	main := filepath.Join(t.TempDir(), "config.toml")
	conf := "version = 3\nimports = [\"" + filepath.Dir(dropIn) + "/*.toml\"]\n"
	if err := os.WriteFile(main, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := doctor.ReadContainerd(main)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !c.Validator || !slices.Contains(c.RequiredPlugins, "signgate") {
		t.Errorf("%s: containerd, importing %v, would not require signgate (validator %v, required %q)",
			when, c.Files[1:], c.Validator, c.RequiredPlugins)
	}
}
