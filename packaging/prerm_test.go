package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// crioDropIn is where docs/install.md has a CRI-O node's operator copy its
// drop-in.
const crioDropIn = "/etc/crio/crio.conf.d/10-signgate.conf"

// requiringDropIns are drop-ins written the ways an operator may write one
// that makes the runtime require signgate: each is a node that refuses every
// container once signgate is gone, so prerm must see each.
var requiringDropIns = []struct {
	name, path string
	link       string // a symlink to this, or else text
	text       string
}{
	{name: "a symlink to the shipped drop-in", path: dropIn, link: "/usr/share/signgate/containerd-2.toml"},
	{name: "a list over several lines", path: dropIn, text: `version = 3
[plugins.'io.containerd.nri.v1.nri'.default_validator]
  enable = true
  required_plugins = [
    "signgate",
  ]
`},
	{name: "an inline table", path: dropIn, text: `version = 3
[plugins.'io.containerd.nri.v1.nri']
  default_validator = { enable = true, required_plugins = [ 'signgate' ] }
`},
	{name: "a dotted, quoted key", path: dropIn, text: `version = 3
[plugins."io.containerd.nri.v1.nri"]
default_validator.enable = true
default_validator."required_plugins" = ["signgate"]
`},
	// CRI-O matches keys to its fields case-insensitively.
	{name: "CRI-O keys in upper case", path: crioDropIn, text: `[CRIO.NRI]
ENABLE_NRI = true
[CRIO.NRI.DEFAULT_VALIDATOR]
NRI_ENABLE_DEFAULT_VALIDATOR = true
NRI_VALIDATOR_REQUIRED_PLUGINS = ["signgate"]
`},
}

// noCRIODropIn fails a test that would overwrite this host's CRI-O drop-in,
// and removes the one the test leaves (and its directory, if the test made
// it).
func noCRIODropIn(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(crioDropIn); err == nil {
		t.Fatalf("%s exists on this host: the package test would replace it", crioDropIn)
	}
	dir := filepath.Dir(crioDropIn)
	_, err := os.Stat(dir)
	made := os.IsNotExist(err)
	t.Cleanup(func() {
		_ = os.Remove(crioDropIn)
		if made {
			_ = os.Remove(dir)
		}
	})
}

// Removing signgate is refused while any drop-in requires it, however the
// drop-in is written: a symlink (grep -r does not follow one it finds), a
// list over several lines, an inline table, a dotted key, CRI-O's keys in
// upper case. A drop-in that does not require signgate (containerd 1.7's,
// or one commented out) does not hold the removal.
func TestDebianPackageRemovalSeesEveryDropIn(t *testing.T) {
	deb := os.Getenv("SIGNGATE_TEST_DEB")
	if deb == "" {
		testenv.Skip(t, "SIGNGATE_TEST_DEB is not set; run `make packaging`")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "dpkg -i needs root")
	}
	noDropIn(t)
	noCRIODropIn(t)
	run(t, "dpkg", "-i", deb)
	t.Cleanup(func() {
		cmd := exec.Command("dpkg", "--purge", "signgate")
		cmd.Env = append(os.Environ(), "SIGNGATE_REMOVE_REQUIRED=1")
		_ = cmd.Run()
	})

	for _, c := range requiringDropIns {
		if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if c.link != "" {
			err = os.Symlink(c.link, c.path)
		} else {
			err = os.WriteFile(c.path, []byte(c.text), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("dpkg", "--remove", "signgate").CombinedOutput()
		if err == nil {
			t.Errorf("%s: signgate was removed while %s requires it:\n%s", c.name, c.path, out)
			run(t, "dpkg", "-i", deb) // for the next case
		} else if !strings.Contains(string(out), c.path+" makes") {
			t.Errorf("%s: the refused removal does not name %s:\n%s", c.name, c.path, out)
		}
		if err := os.Remove(c.path); err != nil {
			t.Fatal(err)
		}
	}

	// Drop-ins that do not require signgate: removing it is the operator's call.
	commented := "# " + strings.ReplaceAll(string(must(os.ReadFile("crio/10-signgate.conf"))), "\n", "\n# ")
	for p, b := range map[string][]byte{
		dropIn:     must(os.ReadFile("containerd/signgate-1.7.toml")),
		crioDropIn: []byte(commented),
	} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("dpkg", "--purge", "signgate").CombinedOutput(); err != nil {
		t.Fatalf("removal refused with drop-ins that do not require signgate: %v\n%s", err, out)
	}
}
