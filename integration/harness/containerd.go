package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Containerd is the containerd under test: where its binaries are, its
// version, and so which of signgate's guarantees it can carry. The suite
// runs against each version in turn (make integration, make matrix); a test
// whose guarantee a version lacks asserts what that version does instead,
// as the README's table documents it.
type Containerd struct {
	Dir          string // containerd and containerd-shim-runc-v2
	Version      string // as `containerd --version` prints it, e.g. 2.4.2
	Major, Minor int
}

var versionRE = regexp.MustCompile(`\s(v?(\d+)\.(\d+)\.\d+)`)

// DetectContainerd asks the binary in dir for its version.
func DetectContainerd(dir string) (Containerd, error) {
	out, err := exec.Command(filepath.Join(dir, "containerd"), "--version").CombinedOutput()
	if err != nil {
		return Containerd{}, fmt.Errorf("%s --version: %v: %s", filepath.Join(dir, "containerd"), err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return Containerd{}, fmt.Errorf("%s --version: no version in %q", filepath.Join(dir, "containerd"), out)
	}
	c := Containerd{Dir: dir, Version: strings.TrimPrefix(m[1], "v")}
	c.Major, _ = strconv.Atoi(m[2])
	c.Minor, _ = strconv.Atoi(m[3])
	return c, nil
}

// AtLeast reports whether this is major.minor or newer.
func (c Containerd) AtLeast(major, minor int) bool {
	return c.Major > major || c.Major == major && c.Minor >= minor
}

// HasValidator: NRI's default validator and required_plugins (NRI v0.10+,
// containerd 2.2+). Without it the gate fails open when signgate is absent.
func (c Containerd) HasValidator() bool { return c.AtLeast(2, 2) }

// HasImageVolumes: CRI image volumes (containerd 2.1+).
func (c Containerd) HasImageVolumes() bool { return c.AtLeast(2, 1) }

// HasPullGate: CRI pulls go through the transfer service, which consults
// the image verifiers (2.1+; 2.0 has the plugin, but CRI pulls bypass it).
func (c Containerd) HasPullGate() bool { return c.AtLeast(2, 1) }

// FillsContainerImage: NRI's Container.Image (containerd 2.4+, NRI v0.12.3).
func (c Containerd) FillsContainerImage() bool { return c.AtLeast(2, 4) }

// HonorsUserSpecifiedImage: CRI names the image by the client's
// user_specified_image in the container's annotations (2.0+; 1.7 names the
// image it resolved).
func (c Containerd) HonorsUserSpecifiedImage() bool { return c.AtLeast(2, 0) }

// configV3: the 2.x configuration format (CRI split into runtime and images).
func (c Containerd) configV3() bool { return c.Major >= 2 }
