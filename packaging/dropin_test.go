package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// dropIn is where docs/install.md has the operator copy the containerd
// drop-in, and where earlier packages installed it.
const dropIn = "/etc/containerd/conf.d/signgate.toml"

// noDropIn fails a test that would overwrite this host's drop-in, and
// removes the one the test leaves.
func noDropIn(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(dropIn); err == nil {
		t.Fatalf("%s exists on this host: the package test would replace it", dropIn)
	}
	t.Cleanup(func() {
		_ = os.Remove(dropIn)
		_ = os.Remove(dropIn + ".signgate-keep")
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
// open at containerd's next restart. Then removing signgate while that
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

	run(t, "dpkg", "-i", deb)
	if got, err := os.ReadFile(dropIn); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("the upgrade did not keep %s as it was: %v\n%s", dropIn, err, got)
	}
	if out, err := exec.Command("dpkg-query", "-S", dropIn).CombinedOutput(); err == nil {
		t.Errorf("%s is still a package's file: %s", dropIn, out)
	}
	if _, err := os.Stat(dropIn + ".signgate-keep"); err == nil {
		t.Errorf("the upgrade left %s.signgate-keep", dropIn)
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
