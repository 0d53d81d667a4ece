package doctor

import (
	"fmt"
	"time"
)

// CRIO is what a node's CRI-O configuration says about NRI, after its
// drop-ins are merged the way CRI-O merges them (crio_config.go).
type CRIO struct {
	Files []string // in the order CRI-O applies them
	// Running: read from CRI-O itself (GET /config), not from its files.
	Running bool

	NRIEnable          *bool // nil: not set (CRI-O's default, on)
	NRIRequestTimeout  time.Duration
	Validator          bool
	RequiredPlugins    []string
	TolerateAnnotation string
	PluginDir          string   // nri_plugin_dir; "": NRI's default
	PauseImage         string   // [crio.image] pause_image; "": CRI-O's default
	CRIUSupport        *bool    // [crio.runtime] enable_criu_support; nil: not set (on)
	ExitsDir           string   // [crio.runtime] container_exits_dir; "": CRI-O's default
	ArtifactStores     []string // [crio.runtime] additional_artifact_stores
	ArtifactMounts     *bool    // [crio.image] oci_artifact_mount_support; nil: not set (on)
	// Set names the file that last set each key doctor reads, by its
	// dotted name ("crio.nri.default_validator.nri_enable_default_validator").
	Set map[string]string
}

// The keys doctor reads, by their dotted names.
const (
	keyNRI       = "crio.nri."
	keyValidator = keyNRI + "default_validator."
	keyEnable    = keyValidator + "nri_enable_default_validator"
	keyRequired  = keyValidator + "nri_validator_required_plugins"
	keyTolerate  = keyValidator + "nri_validator_tolerate_missing_plugins_annotation"
)

// noValidator names the CRI-O builds whose NRI has no validator, which
// ignore [crio.nri.default_validator]: a node running one fails open.
const noValidator = "CRI-O 1.33 and older, and v1.34.0 as the Go module proxy serves it (the tag as first pushed, NRI v0.9), have no NRI validator and ignore these settings; signgate logs \"CRI-O refused signgate's NRI validator subscription\" on such a node, where the gate fails open"

// ValidatorRefused is what signgate's /readyz adds when the runtime
// refused its validator subscription.
const ValidatorRefused = "the runtime refused the NRI validator subscription: it creates containers when signgate is absent (fails open)"

// checkCRIO is Check for a node whose runtime is CRI-O.
func checkCRIO(n Node) []Finding {
	cfg := n.CRIO
	if cfg == nil {
		cfg = &CRIO{}
	}
	out := []Finding{{Guarantee: "signgate reads what each container runs from CRI-O's own storage", Holds: n.CRIOStorageReadable,
		Detail: "[daemon.runtime] name = \"crio\": the container's image, manifests and layer chain from containers/storage"}}
	if !n.CRIOStorageReadable {
		out[0].Detail = "CRI-O's storage is not readable where [daemon.runtime] crio_storage_root says; every container would be refused"
	}
	nriOn := n.CRIO != nil && (cfg.NRIEnable == nil || *cfg.NRIEnable)
	f := Finding{Guarantee: "NRI is on, so signgate sees every container creation", Holds: nriOn, Detail: "[crio.nri] enable_nri is true or CRI-O's default"}
	switch {
	case n.CRIO == nil:
		f.Detail = "unknown, so not holding: CRI-O's config could not be read"
	case !nriOn:
		f.Detail = "[crio.nri] enable_nri = false: set it to true"
	}
	out = append(out, f)

	out = append(out, crioRunningFinding(n, cfg))
	out = append(out, crioFailClosed(n, cfg)...)
	out = append(out, optOut("nri_validator_tolerate_missing_plugins_annotation", cfg.TolerateAnnotation), pauseFinding(cfg), restoreFinding(cfg, n), artifactFinding(cfg), nriAccessFinding(cfg, n.Plugin))

	timeout := cfg.NRIRequestTimeout
	if timeout == 0 {
		timeout = defaultNRIRequestTimeout
	}
	f = Finding{Guarantee: "signgate answers before CRI-O stops waiting", Holds: n.Deadline < timeout,
		Detail: fmt.Sprintf("decision_deadline %s < nri_plugin_request_timeout %s", n.Deadline, timeout)}
	if !f.Holds {
		f.Detail = fmt.Sprintf("decision_deadline %s is not below CRI-O's nri_plugin_request_timeout %s: signgate answers within three quarters of the timeout instead", n.Deadline, timeout)
	}
	out = append(out, f, crioStopFinding(n.CRIOStop))
	out = append(out,
		Finding{Guarantee: "pull-time gate: untrusted images are not even pulled", Optional: true,
			Detail: "CRI-O has no image verifier hook; its own policy.json can require signatures at pull"},
		Finding{Guarantee: "a container whose image is no longer trusted does not start", Optional: true,
			Detail: "CRI-O logs a refused NRI StartContainer and starts the container all the same: a key dropped between creation and start does not stop that start (creation is gated)"},
		Finding{Guarantee: "image volumes are verified like root filesystems", Holds: true,
			Detail: "bound to the image layer CRI-O mounts; an image volume with a sub path is refused (signgate cannot bind CRI-O's sub path mounts yet)"},
		Finding{Guarantee: "the runtime's own record binds the image config at creation", Holds: true, Optional: true,
			Detail: "CRI-O's storage names the image (config) each container was created from; its ImageRef annotation must agree"},
	)
	return out
}
