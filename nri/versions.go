package nri

import (
	"strings"

	"github.com/containerd/nri/pkg/api"
	"golang.org/x/mod/semver"
)

// validatorSince is the NRI release that added ValidateContainerAdjustment.
const validatorSince = "v0.10.0"

// containerdValidatorSince is the containerd release that shipped it.
const containerdValidatorSince = "v2.2.0"

// eventsFor is what signgate subscribes to on a runtime, and whether that
// includes the validator. A containerd that says it is 2.2 or newer, its
// pre-releases included, has it: the stub infers a pre-release's NRI from
// the release before it (v2.2.0-rc.0 as v2.1.6's v0.8.0), and a validator
// missed there fails open, since NRI counts a plugin that timed out within
// the request as present. Otherwise the runtime's NRI version decides
// (runtimes from NRI v0.12 report it; the stub infers it for releases it
// knows); failing that, containerd's own version does. A runtime known by
// neither is taken to have the validator: one too new to be known is
// likelier than one too old, and a wrong guess shows as a connection
// refused at once. On CRI-O, PostStartContainer too.
func eventsFor(nriVersion, runtime, runtimeVersion string) (api.EventMask, bool) {
	names := []string{"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer", "RemoveContainer"}
	validates := true
	ctd, ctdKnown := release(runtimeVersion)
	ctdKnown = ctdKnown && runtime == "containerd"
	switch v, ok := release(nriVersion); {
	case ctdKnown && semver.Compare(semver.MajorMinor(ctd), semver.MajorMinor(containerdValidatorSince)) >= 0:
	case ok:
		validates = semver.Compare(v, validatorSince) >= 0
	case ctdKnown:
		validates = false
	}
	if validates {
		names = append(names, "ValidateContainerAdjustment")
	}
	// CRI-O starts a container whose start was refused: its post-start
	// has it judged again (handlers.go, refuseStart).
	if runtime == "cri-o" {
		names = append(names, "PostStartContainer")
	}
	return api.MustParseEventMask(names...), validates
}

// release is version as a semver release ("v2.1.9" from "2.1.9+unknown"),
// or false when it names none: NRI spells "unknown" and "development build"
// as 0.0.0 pre-releases.
func release(version string) (string, bool) {
	v := version
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) || semver.MajorMinor(v) == "v0.0" {
		return "", false
	}
	return semver.Canonical(v), true
}
