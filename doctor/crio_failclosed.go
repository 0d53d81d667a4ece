package doctor

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// crioValidator is what doctor knows of the NRI validator of the CRI-O
// signgate is connected to: from signgate's own word (/readyz), which a
// config cannot show.
type crioValidator struct {
	known, has bool
	why        string
}

// validatorOf reads signgate's /readyz: a refused validator subscription,
// or the CRI-O version NRI's Configure named. CRI-O 1.34 releases and
// newer have the validator; 1.33 and older do not (signgate then does not
// ask for it), nor does v1.34.0 as the Go module proxy serves it (it
// refuses signgate's subscription, which signgate reports).
func validatorOf(n Node) crioValidator {
	if n.Running == nil || !n.Running.Answered {
		return crioValidator{why: "signgate is not answering, so which CRI-O runs is unknown: this holds only on CRI-O 1.34 releases and newer, which have NRI's validator (" + noValidator + ")"}
	}
	if strings.Contains(n.Running.Detail, ValidatorRefused) {
		return crioValidator{known: true, why: "signgate reports that CRI-O refused its validator subscription: this CRI-O build has no NRI validator, whatever its config says (" + noValidator + ")"}
	}
	name, version, ok := n.Running.RuntimeSeen()
	switch v := "v" + strings.TrimPrefix(version, "v"); {
	case !ok || name != criOName || !semver.IsValid(v):
		return crioValidator{why: "signgate did not say which CRI-O it is connected to: this holds only on CRI-O 1.34 releases and newer, which have NRI's validator"}
	case semver.Compare(v, "v1.34.0") < 0:
		return crioValidator{known: true, why: fmt.Sprintf("CRI-O %s has no NRI validator (1.34 added it): upgrade CRI-O", version)}
	default:
		return crioValidator{known: true, has: true, why: fmt.Sprintf("CRI-O %s has NRI's validator and took signgate's subscription to it", version)}
	}
}

// criOName is how CRI-O names itself over NRI.
const criOName = "cri-o"

// crioFailClosed says whether CRI-O's default validator is on and requires
// signgate, and what CRI-O does with a container created while signgate is
// absent or killed, and while it is wedged (its NRI requests time out).
func crioFailClosed(n Node, cfg *CRIO) []Finding {
	v := validatorOf(n)
	timeout := cfg.NRIRequestTimeout
	if timeout == 0 {
		timeout = defaultNRIRequestTimeout
	}
	on := Finding{Guarantee: "CRI-O's NRI default validator is on", Holds: cfg.Validator,
		Detail: fmt.Sprintf("[crio.nri.default_validator] nri_enable_default_validator = %t (%s)", cfg.Validator, cfg.where(keyEnable))}
	if !cfg.Validator {
		on.Detail += ": set it to true (docs/install.md's drop-in, /etc/crio/crio.conf.d/10-signgate.conf)"
	}
	required := slices.Contains(cfg.RequiredPlugins, n.Plugin)
	req := Finding{Guarantee: fmt.Sprintf("CRI-O's default validator requires %q", n.Plugin), Holds: cfg.Validator && required,
		Detail: fmt.Sprintf("nri_validator_required_plugins = %s (%s)", quoteList(cfg.RequiredPlugins), cfg.where(keyRequired))}
	switch {
	case !required:
		req.Detail += fmt.Sprintf(": add %q, the name signgate registers with", n.Plugin)
	case !cfg.Validator:
		req.Detail += ", which counts only with the validator on"
	}
	if cfg.Validator && cfg.TolerateAnnotation != "" {
		req.Detail += fmt.Sprintf("; but not for a pod annotated %s=true (nri_validator_tolerate_missing_plugins_annotation)", cfg.TolerateAnnotation)
	}
	// Fails closed only when known: NRI on (with it off CRI-O runs no
	// validator) and a CRI-O signgate names, with the validator.
	nriOn := cfg.NRIEnable == nil || *cfg.NRIEnable
	configured := req.Holds && nriOn
	gated := configured && v.has && cfg.Running

	absent := Finding{Guarantee: "signgate absent or killed: CRI-O creates no container", Holds: gated}
	switch {
	case gated:
		absent.Detail = fmt.Sprintf("the first creation after signgate went is refused as its validator call fails (\"validator plugin ...%s failed: ttrpc: closed\"), each one after by CRI-O's default validator (\"validation error: required plugin %q not present\"), until signgate registers again", n.Plugin, n.Plugin)
	case !nriOn:
		absent.Detail = "CRI-O creates every container unchecked (fails open): [crio.nri] enable_nri = false, so CRI-O runs no NRI and no validator"
	case v.known && !v.has:
		absent.Detail = "CRI-O creates every container unchecked (fails open): " + v.why
	case configured && !v.has:
		absent.Detail = "unknown, so not holding: the config requires signgate, but " + v.why
	case configured:
		absent.Detail = "unknown, so not holding: CRI-O's files require signgate, but what CRI-O runs could not be read (above)"
	default:
		absent.Detail = "CRI-O creates every container unchecked (fails open): its default validator does not require signgate (above)"
	}
	wedged := Finding{Guarantee: "signgate wedged (its NRI requests time out): CRI-O creates no container", Holds: gated}
	switch {
	case gated:
		wedged.Detail = fmt.Sprintf("a creation waits nri_plugin_request_timeout (%s) for signgate; CRI-O then closes signgate's connection and signgate's validator call fails (\"validator plugin ...%s failed\"), refusing it; the creations after it are refused as with signgate absent, until it registers again", timeout, n.Plugin)
	case !nriOn:
		wedged.Detail = absent.Detail
	case v.known && !v.has:
		wedged.Detail = fmt.Sprintf("CRI-O waits nri_plugin_request_timeout (%s), drops signgate and creates the container unchecked (fails open): %s", timeout, v.why)
	case configured:
		wedged.Detail = absent.Detail
	default:
		wedged.Detail = fmt.Sprintf("the creation waiting on signgate is refused after nri_plugin_request_timeout (%s), as signgate's validator call fails, but CRI-O then drops signgate and creates the next ones unchecked until it registers again (fails open): its default validator does not require signgate", timeout)
	}
	closed := Finding{Guarantee: "fails closed: no container is created while signgate is absent, killed or too slow", Holds: gated}
	if gated {
		closed.Detail = fmt.Sprintf("the default validator requires %q, and %s", n.Plugin, strings.TrimSuffix(v.why, "."))
	} else {
		closed.Detail = absent.Detail
	}
	return []Finding{on, req, absent, wedged, closed}
}

// quoteList is a TOML list of strings.
func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
