package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// InspectSchema versions signgate inspect's JSON output.
const InspectSchema = "signgate.dev/inspect/v1"

type inspectOutput struct {
	Schema    string            `json:"schema"`
	Image     string            `json:"image"`
	Artifacts []verify.Artifact `json:"artifacts"`
	Error     string            `json:"error,omitempty"`
}

const inspectHelp = `usage: signgate inspect [--config F] [--output text|json] IMAGE

Lists every cosign signature and attestation (the .sig and .att tags,
Sigstore bundles) and every other referrer (notation signatures) of IMAGE,
verified or not: for writing a policy, and for finding why one does not match.

Exit 0: listed; 1: the image or its artifacts could not be read; 2: usage
or config error.
`

// runInspect lists what an image carries, whether or not a policy uses it:
// for writing a policy, and for finding why one does not match.
func runInspect(args []string) int {
	c := newCommand("inspect", inspectHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file, for registry access (hosts_dir, credentials); defaults are used when it does not exist")
	c.outputFlag(InspectSchema)
	pos, code, done := c.parse(args, 1, 1)
	if done {
		return code
	}
	output := c.output
	failed := func(err error) int { // usage or config: JSON too when asked for
		if *output == "json" {
			_ = writeJSON(os.Stdout, inspectOutput{Schema: InspectSchema, Image: pos[0], Artifacts: []verify.Artifact{}, Error: err.Error()})
		} else {
			fmt.Fprintln(os.Stderr, "signgate:", err)
		}
		return exitUsage
	}
	regCfg := registry.Config{}
	switch cfg, err := setup.Load(*cfgPath); {
	case err == nil:
		regCfg = cfg.RegistryConfig()
	case errors.Is(err, fs.ErrNotExist):
	default:
		return failed(err)
	}
	reg, err := registry.New(regCfg)
	if err != nil {
		return failed(err)
	}
	ref, err := name.ParseReference(pos[0])
	if err != nil {
		return failed(fmt.Errorf("image %q: %w", pos[0], err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := inspectOutput{Schema: InspectSchema, Image: ref.String()}
	img, err := resolve(ctx, reg, ref)
	if err == nil {
		out.Image = img.String()
		out.Artifacts, err = verify.Inspect(ctx, reg, img)
	}
	if err != nil {
		out.Error = fmt.Sprintf("%s: %v", ref, err)
	}
	if *output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		printArtifacts(os.Stdout, out)
	}
	if err != nil {
		return exitDenied
	}
	return exitOK
}

func printArtifacts(w io.Writer, out inspectOutput) {
	fmt.Fprintln(w, out.Image)
	if out.Error != "" {
		fmt.Fprintln(w, "  error:", out.Error)
		return
	}
	if len(out.Artifacts) == 0 {
		fmt.Fprintln(w, "  no signatures, attestations or other referrers")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tLOCATION\tSIGNER\tLOG\tDETAIL")
	for _, a := range out.Artifacts {
		signer := "-"
		switch {
		case a.Subject != "":
			signer = a.Subject + " (" + a.Issuer + ")"
		case a.Key:
			signer = "a key"
		}
		log := "-"
		if a.LogIndex != nil {
			log = fmt.Sprintf("index %d", *a.LogIndex)
		}
		detail := a.PredicateType
		if a.Kind == verify.KindOther {
			detail = a.ArtifactType
		}
		if a.Timestamped {
			detail += " (timestamped)"
		}
		if a.Problem != "" {
			detail = a.Problem
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Kind, a.Location, signer, log, detail)
	}
	_ = tw.Flush()
}
