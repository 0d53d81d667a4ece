package doctor

import (
	"fmt"
	"strings"
)

// defaultPauseImage is CRI-O v1.35.2's pause_image on Linux: a tag.
const defaultPauseImage = "registry.k8s.io/pause:3.10.1"

// pauseFinding: NRI's validator covers containers, not pod sandboxes, so
// the pause image each sandbox runs is not verified by signgate; pinned by
// digest, a registry cannot swap it.
func pauseFinding(cfg *CRIO) Finding {
	img := cfg.PauseImage
	src := cfg.where("crio.image.pause_image")
	if img == "" {
		img = defaultPauseImage
	}
	f := Finding{Guarantee: "pod sandboxes run a pause image pinned by digest", Optional: true}
	if strings.Contains(img, "@sha256:") {
		f.Holds, f.Detail = true, fmt.Sprintf("[crio.image] pause_image = %q (%s)", img, src)
		return f
	}
	f.Detail = fmt.Sprintf("[crio.image] pause_image = %q (%s) is a tag: signgate does not verify sandboxes (NRI's validator covers containers only), so whoever controls that tag at the registry chooses what every pod's sandbox runs; pin it by digest (pause_image = \"registry.k8s.io/pause@sha256:...\")", img, src)
	return f
}
