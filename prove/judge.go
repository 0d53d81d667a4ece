package prove

import (
	"fmt"
	"strings"
)

// Outcome is what a probe found.
type Outcome string

const (
	// Proven: containerd refused the probe container, and the refusal is
	// signgate's, naming the probe's digest.
	Proven Outcome = "proven"
	// Created: containerd created a container from an image nobody signed.
	// Nothing on the node enforces; the loudest failure.
	Created Outcome = "created"
	// PluginAbsent: NRI's default validator refused the container because
	// the required plugin (signgate) was not there. The drop-in fails
	// closed, but signgate is not gating: every container is refused.
	PluginAbsent Outcome = "plugin_absent"
	// RefusedOther: refused, but not by signgate (a timeout, the runtime,
	// another plugin): signgate's enforcement was not exercised.
	RefusedOther Outcome = "refused_not_by_signgate"
	// NoSandbox: no pod sandbox could be created here (no pause image, a
	// sandbox image signgate refuses, no runtime), so nothing was tried.
	NoSandbox Outcome = "no_sandbox"
	// Failed: the probe could not be set up (containerd unreachable, the
	// image not importable).
	Failed Outcome = "failed"
)

// judge reads containerd's answer to the probe's CreateContainer.
func judge(err error, digest, plugin string) Outcome {
	if err == nil {
		return Created
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "signgate denied image") && strings.Contains(msg, digest):
		return Proven
	case strings.Contains(msg, fmt.Sprintf("required plugin %q not present", plugin)),
		strings.Contains(msg, "required plugins") && strings.Contains(msg, "not present") && strings.Contains(msg, plugin):
		return PluginAbsent
	}
	return RefusedOther
}

// explain says, in a sentence or two, what the outcome proves and what it
// does not.
func explain(r *Result) string {
	policy := "no policy matches it, and unmatched images are denied: no policy of yours was exercised (set [daemon] prove_image under a repository your policy governs)"
	if r.Policy != "" {
		policy = fmt.Sprintf("it falls under policy %q (mode %s)", r.Policy, r.Mode)
	}
	switch r.Outcome {
	case Proven:
		return fmt.Sprintf("containerd refused to create a container from %s, an image built on this node moments ago that nobody signed, and the refusal was signgate's: signgate is connected, containerd waits for its answer, and %s. It does not prove that any other image is judged rightly.", r.Image, policy)
	case Created:
		why := "signgate did not refuse it: either it is not connected and containerd's drop-in (required_plugins) is missing, or its policy admits an unsigned image"
		if r.Mode == "allow" || r.Mode == "audit" {
			why = fmt.Sprintf("policy %q is mode %s, so signgate admits an image nobody signed", r.Policy, r.Mode)
		}
		return fmt.Sprintf("NOT ENFORCING: containerd CREATED a container from %s, an image nobody signed (then it was removed): %s. Any unsigned image can run on this node.", r.Image, why)
	case PluginAbsent:
		return fmt.Sprintf("containerd refused the container, but not signgate: NRI's default validator found the required plugin %q absent. The drop-in fails closed, but signgate is not connected, so every new container on this node is refused; signgate's policies were not exercised.", r.Plugin)
	case RefusedOther:
		return "containerd refused the container, but the refusal is not signgate's: signgate's enforcement was not exercised (see the refusal)."
	case NoSandbox:
		return "no pod sandbox could be created here (the sandbox image missing or refused, or the runtime failing), so no container was tried: nothing was proved."
	}
	return "the probe could not be set up: nothing was proved."
}
