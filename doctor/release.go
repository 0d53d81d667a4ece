package doctor

import (
	"fmt"
	"regexp"
	"strconv"
)

// Release is a containerd release, and what signgate can rely on in it.
// It is the one place these facts live: `signgate doctor` reports them and
// the integration suite runs each version against them.
type Release struct{ Major, Minor int }

var versionRE = regexp.MustCompile(`(?:^|\s)v?(\d+)\.(\d+)`)

// ParseRelease reads a release from a version as containerd spells it
// ("2.1.9", "v2.4.2", "2.2.9+unknown", or `containerd --version`'s line).
func ParseRelease(version string) (Release, error) {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return Release{}, fmt.Errorf("cannot read a containerd version from %q", version)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Release{major, minor}, nil
}

func (r Release) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// AtLeast reports whether r is major.minor or newer.
func (r Release) AtLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}

// NRIOnByDefault: 1.x ships NRI turned off.
func (r Release) NRIOnByDefault() bool { return r.AtLeast(2, 0) }

// HasValidator: NRI's default validator with required_plugins (NRI v0.10,
// containerd 2.2). Without it the gate fails open when signgate is absent.
func (r Release) HasValidator() bool { return r.AtLeast(2, 2) }

// HasPullGate: CRI pulls go through the transfer service, which consults
// the image verifiers (2.1; 2.0 has the plugin, but CRI pulls bypass it).
func (r Release) HasPullGate() bool { return r.AtLeast(2, 1) }

// HasImageVolumes: CRI image volumes (2.1).
func (r Release) HasImageVolumes() bool { return r.AtLeast(2, 1) }

// FillsContainerImage: NRI's Container.Image (2.4, NRI v0.12.3).
func (r Release) FillsContainerImage() bool { return r.AtLeast(2, 4) }
