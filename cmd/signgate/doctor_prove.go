package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/prove"
)

// proveGuarantee is the finding --prove adds.
const proveGuarantee = "containerd refuses a container from an image nobody signed, and the refusal is signgate's"

// proveReport runs the enforcement probe and adds its finding to rep.
func proveReport(rep *doctorOutput, cfgPath string) int {
	cfg, err := setup.Load(cfgPath)
	if err != nil {
		rep.Error = err.Error()
		return exitUsage
	}
	s, err := prove.ParseSettings(cfg)
	if err != nil {
		rep.Error = err.Error()
		return exitUsage
	}
	r := prove.Run(context.Background(), prove.OptionsFor(cfg, s))
	rep.Prove = r
	f := doctorFinding{Mark: "OK  ", Guarantee: proveGuarantee, Holds: r.Proven, Detail: r.Proved}
	if !r.Proven {
		f.Mark = "NO  "
	}
	if len(r.Leftovers) > 0 {
		f.Detail += " Could not remove: " + strings.Join(r.Leftovers, "; ") + "."
	}
	rep.Findings = append(rep.Findings, f)
	if r.Proven && len(r.Leftovers) == 0 {
		return exitOK
	}
	return exitDenied
}

// printProve says what the probe did, for the text output.
func printProve(r *prove.Result) {
	if r == nil {
		return
	}
	loud := ""
	if r.Outcome == prove.Created {
		loud = "  <-- NOTHING ENFORCES ON THIS NODE"
	}
	fmt.Printf("probe: %s from %s (%s) in pod %s/%s: %s%s\n", r.Outcome, r.Image, r.Digest, r.Namespace, r.Pod, r.Proved, loud)
	if r.Refusal != "" {
		fmt.Printf("probe: containerd said: %s\n", r.Refusal)
	}
	if len(r.Leftovers) == 0 {
		fmt.Println("probe: removed everything it made (sandbox, container, image, content, snapshot)")
	}
}
