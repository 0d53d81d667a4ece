package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/signgate/signgate/doctor"
)

// Containerd is the containerd under test: where its binaries are, its
// version, and (from doctor.Release, the facts `signgate doctor` reports)
// which of signgate's guarantees it can carry. The suite runs against each
// version in turn (make integration, make matrix); a test whose guarantee a
// version lacks asserts what that version does instead, so a wrong fact in
// doctor.Release fails the suite.
type Containerd struct {
	doctor.Release
	Dir     string // containerd and containerd-shim-runc-v2
	Version string // as `containerd --version` prints it, e.g. 2.4.2
}

var versionRE = regexp.MustCompile(`\sv?(\d+\.\d+\.\d+\S*)`)

// DetectContainerd asks the binary in dir for its version.
func DetectContainerd(dir string) (Containerd, error) {
	bin := filepath.Join(dir, "containerd")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return Containerd{}, fmt.Errorf("%s --version: %v: %s", bin, err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return Containerd{}, fmt.Errorf("%s --version: no version in %q", bin, out)
	}
	r, err := doctor.ParseRelease(m[1])
	if err != nil {
		return Containerd{}, fmt.Errorf("%s --version: %w", bin, err)
	}
	return Containerd{Release: r, Dir: dir, Version: strings.TrimSuffix(m[1], "+unknown")}, nil
}

// HonorsUserSpecifiedImage: CRI names the image by the client's
// user_specified_image in the container's annotations (2.0+; 1.7 names the
// image it resolved). A test fact, not a guarantee.
func (c Containerd) HonorsUserSpecifiedImage() bool { return c.AtLeast(2, 0) }

// HasImageSubPath: CRI mounts only image_sub_path of an image volume (2.2
// and newer); 2.1 ignores it and mounts the whole image.
func (c Containerd) HasImageSubPath() bool { return c.AtLeast(2, 2) }

// configV3: the 2.x configuration format (CRI split into runtime and images).
func (c Containerd) configV3() bool { return c.Major >= 2 }
