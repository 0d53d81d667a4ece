package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// CRIO is what a node's CRI-O configuration says about NRI, after its
// drop-ins are merged the way CRI-O merges them (crio.conf, then each
// crio.conf.d file in name order, a later value replacing an earlier one).
type CRIO struct {
	Files []string

	NRIEnable          *bool // nil: not set (CRI-O's default, on)
	NRIRequestTimeout  time.Duration
	Validator          bool
	RequiredPlugins    []string
	TolerateAnnotation string
}

// ReadCRIO reads CRI-O's config file and the *.conf files in its drop-in
// directory; either may be absent, not both.
func ReadCRIO(path, dir string) (*CRIO, error) {
	files := []string{}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	}
	drop, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	sort.Strings(drop)
	files = append(files, drop...)
	if len(files) == 0 {
		return nil, fmt.Errorf("neither %s nor %s/*.conf exists", path, dir)
	}
	merged := map[string]any{}
	for _, f := range files {
		m, err := decode(f)
		if err != nil {
			return nil, err
		}
		merge(merged, m)
	}
	c := &CRIO{Files: files}
	nri := table(table(merged, "crio"), "nri")
	if v, ok := nri["enable_nri"].(bool); ok {
		c.NRIEnable = &v
	}
	if s, ok := nri["nri_plugin_request_timeout"].(string); ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%s: crio.nri.nri_plugin_request_timeout: %w", strings.Join(files, ", "), err)
		}
		c.NRIRequestTimeout = d
	}
	val := table(nri, "default_validator")
	c.Validator, _ = val["nri_enable_default_validator"].(bool)
	if list, ok := val["nri_validator_required_plugins"].([]any); ok {
		for _, p := range list {
			if s, ok := p.(string); ok {
				c.RequiredPlugins = append(c.RequiredPlugins, s)
			}
		}
	}
	c.TolerateAnnotation, _ = val["nri_validator_tolerate_missing_plugins_annotation"].(string)
	return c, nil
}

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
	nriOn := cfg.NRIEnable == nil || *cfg.NRIEnable
	f := Finding{Guarantee: "NRI is on, so signgate sees every container creation", Holds: nriOn, Detail: "[crio.nri] enable_nri is true or CRI-O's default"}
	if !nriOn {
		f.Detail = "[crio.nri] enable_nri = false: set it to true"
	}
	out = append(out, f)

	f = Finding{Guarantee: "fails closed: no container is created while signgate is absent, killed or too slow"}
	switch {
	case n.Running != nil && strings.Contains(n.Running.Detail, ValidatorRefused):
		f.Detail = "signgate reports that CRI-O refused its validator subscription: this CRI-O has no NRI validator, whatever [crio.nri.default_validator] says; " + noValidator
	case !cfg.Validator || !slices.Contains(cfg.RequiredPlugins, n.Plugin):
		f.Detail = fmt.Sprintf("[crio.nri.default_validator] must set nri_enable_default_validator = true and nri_validator_required_plugins = [%q] (CRI-O 1.34 releases); %s", n.Plugin, noValidator)
	default:
		f.Holds, f.Detail = true, fmt.Sprintf("the default validator requires %q, where CRI-O has one: %s", n.Plugin, noValidator)
	}
	out = append(out, f)
	if cfg.Validator {
		out = append(out, optOut("nri_validator_tolerate_missing_plugins_annotation", cfg.TolerateAnnotation))
	}

	timeout := cfg.NRIRequestTimeout
	if timeout == 0 {
		timeout = defaultNRIRequestTimeout
	}
	f = Finding{Guarantee: "signgate answers before CRI-O stops waiting", Holds: n.Deadline < timeout,
		Detail: fmt.Sprintf("decision_deadline %s < nri_plugin_request_timeout %s", n.Deadline, timeout)}
	if !f.Holds {
		f.Detail = fmt.Sprintf("decision_deadline %s is not below CRI-O's nri_plugin_request_timeout %s: signgate answers within three quarters of the timeout instead", n.Deadline, timeout)
	}
	out = append(out, f)
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
