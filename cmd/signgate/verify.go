package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// VerifySchema versions signgate verify's JSON output.
const VerifySchema = "signgate.dev/verify/v1"

// verifyOutput is what --output json prints, whatever the outcome: the
// verdict's fields, or error for a usage or config problem.
type verifyOutput struct {
	Schema string `json:"schema"`
	*verify.Verdict
	Error string `json:"error,omitempty"`
}

const verifyHelp = `usage: signgate verify [--config F] [--output text|json] [--namespace NS] [--platform OS/ARCH] IMAGE

Decides one image as the daemon would, and explains why: resolves a tag to
its digest now, then verifies it under the config's policies. For an
index, the platform manifest a node of --platform runs (default: this
host's platform) is the one whose signatures count where the policy's
signed_manifest says so.

Exit 0: allowed; 1: denied (no policy, no or untrusted signatures, an image
that does not exist, ...); 2: usage or config error; 3: denied because the
registry could not be read or did not answer in time (cause registry_error,
rate_limited or pending): the daemon would deny too, but nothing is known against the
image, so retry.
`

func runVerify(args []string) int {
	c := newCommand("verify", verifyHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file")
	c.outputFlag(VerifySchema)
	namespace := c.fs.String("namespace", "", "Kubernetes namespace to decide for (policies may be limited to namespaces)")
	platform := c.fs.String("platform", hostPlatform(), "the node's platform, os/arch[/variant]: which manifest of an index runs")
	pos, code, done := c.parse(args, 1, 1)
	if done {
		return code
	}
	output := c.output
	v, code, err := decideOnce(*cfgPath, pos[0], *namespace, *platform)
	if *output == "json" {
		out := verifyOutput{Schema: VerifySchema, Verdict: v}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return code
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return code
	}
	printVerdict(os.Stdout, v)
	return code
}

// decideOnce decides image as the daemon would, from this process. A
// verdict comes with exit 0 (allowed), 1 (denied) or 3 (denied: the
// registry could not be read); an error with exit 2 (usage or config).
func decideOnce(cfgPath, image, namespace, platform string) (*verify.Verdict, int, error) {
	plat, err := verify.ParsePlatform(platform)
	if err != nil {
		return nil, exitUsage, fmt.Errorf("--%w", err)
	}
	cfg, engine, reg, closeKeys, err := loadEngine(cfgPath)
	if err != nil {
		return nil, exitUsage, err
	}
	defer closeKeys()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Registry.VerifyTimeout)
	defer cancel()
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, exitUsage, fmt.Errorf("image %q: %w", image, err)
	}
	img, err := resolve(ctx, reg, ref)
	if err != nil {
		v := verify.Deny(ref.String(), "", unresolvedCause(err), "cannot resolve to a digest: "+verify.Excerpt(err))
		return v, verdictCode(v), nil
	}
	runs, v := platformToRun(ctx, engine, img, namespace, plat)
	if v == nil {
		v = decideNow(cfg, engine, verify.Request{Image: img, Namespace: namespace, Platform: runs})
	}
	return v, verdictCode(v), nil
}

// verdictCode tells a registry that could not be read (or not in time)
// from an image found wanting: a script retries the one, not the other.
func verdictCode(v *verify.Verdict) int {
	switch {
	case v.Allowed:
		return exitOK
	case v.Cause == verify.CauseRegistryError || v.Cause == verify.CauseRateLimited || v.Cause == verify.CausePending:
		return exitRegistry
	}
	return exitDenied
}

// unresolvedCause: a tag the registry says does not exist is an unknown
// image; any other failure to resolve it is the registry's.
func unresolvedCause(err error) verify.Cause {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return verify.CauseImageUnknown
	}
	return verify.CauseRegistryError
}

// loadEngine builds, in this process, the engine the daemon would run
// under the config at cfgPath (setup.Open: KMS keys started as the daemon
// starts them, from its last-known-good state, read and never written from
// here, then synced within kms.request_timeout), and says what the keys'
// start could not do.
func loadEngine(cfgPath string) (*setup.Config, *verify.Engine, *registry.Client, func(), error) {
	g, err := setup.Open(cfgPath)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if g.Keys.StateIgnored() {
		fmt.Fprintln(os.Stderr, "signgate: warning: the daemon's last-known-good KMS keys are not used:", g.Keys.StateErr)
	}
	if g.Keys.SyncErr != nil {
		fmt.Fprintln(os.Stderr, "signgate: warning:", g.Keys.SyncErr)
	}
	return g.Config, g.Engine, g.Registry, g.Close, nil
}

// decideNow waits for the engine's own answer: it bounds a verification by
// registry.verify_timeout, so wait a little longer than that.
func decideNow(cfg *setup.Config, engine *verify.Engine, req verify.Request) *verify.Verdict {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Registry.VerifyTimeout+2*time.Second)
	defer cancel()
	v := engine.Decide(ctx, req)
	if v.Pending {
		// "retry shortly" is the daemon's word to the kubelet; a one-shot
		// command has simply run out of time.
		v.Reason = fmt.Sprintf("verification did not finish within registry.verify_timeout (%s)", cfg.Registry.VerifyTimeout)
	}
	return v
}

// resolve turns a tag into the digest it names now. Only the CLI does this;
// the daemon takes the digest from containerd's image store.
func resolve(ctx context.Context, reg *registry.Client, ref name.Reference) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	opts, err := reg.Options(ctx, ref.Context())
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

func printVerdict(w io.Writer, v *verify.Verdict) {
	image := v.Image
	if v.Digest != "" && !strings.Contains(image, "@") {
		image += "@" + v.Digest
	}
	fmt.Fprintf(w, "%s  %s\n", strings.ToUpper(v.Decision()), image)
	if v.Policy != "" {
		fmt.Fprintf(w, "  policy:   %s (%s)\n", v.Policy, v.Mode)
	}
	fmt.Fprintf(w, "  cause:    %s\n", v.Cause)
	if v.Platform != "" {
		fmt.Fprintf(w, "  platform: %s (the manifest of the index that runs)\n", v.Platform)
	}
	if v.Manifest != "" {
		fmt.Fprintf(w, "  signed:   %s (whose signatures verified)\n", v.Manifest)
	}
	fmt.Fprintf(w, "  reason:   %s\n", v.Reason)
	if c := v.Cosign; c != nil {
		fmt.Fprintf(w, "  cosign:   requires %s; keys verified: %s\n", c.Requirement, orNone(c.KeysVerified))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range c.Signatures {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Format, s.Location, describeSig(s))
		}
		tw.Flush()
	}
	if n := v.Notation; n != nil {
		fmt.Fprintf(w, "  notation: requires %s (level %s); roots verified: %s\n", n.Requirement, n.Level, orNone(n.RootsVerified))
		roots := make([]string, 0, len(n.Signers)+len(n.Rejections))
		for r := range n.Signers {
			roots = append(roots, r)
		}
		for r := range n.Rejections {
			roots = append(roots, r)
		}
		sort.Strings(roots)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range roots {
			if s, ok := n.Signers[r]; ok {
				fmt.Fprintf(tw, "    root %s\tverified, signed by %s\n", r, s)
			} else {
				fmt.Fprintf(tw, "    root %s\t%s\n", r, n.Rejections[r])
			}
		}
		tw.Flush()
	}
	for _, a := range v.Attestations {
		fmt.Fprintf(w, "  attestation %s: requires %s; verified by: %s\n", a.Name, a.Requirement, orNone(a.KeysVerified))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range a.Attestations {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Format, s.Location, describeSig(s))
		}
		tw.Flush()
	}
	if v.Took > 0 { // nothing was verified when the image did not resolve
		fmt.Fprintf(w, "  took:     %s\n", v.Took.Round(time.Microsecond))
	}
}

func describeSig(s verify.CosignSignature) string {
	if s.Problem != "" {
		return s.Problem
	}
	var parts []string
	if s.Subject != "" {
		who := "certificate for " + s.Subject + " (issuer " + s.Issuer + ")"
		if s.TrustRoot != "" {
			who += " under trust root " + s.TrustRoot
		}
		if s.LogIndex != nil {
			who += fmt.Sprintf(", log index %d", *s.LogIndex)
		}
		if s.SignedAt != "" {
			who += ", signed at " + s.SignedAt
		}
		parts = append(parts, who)
	}
	if len(s.VerifiedBy) > 0 {
		by := make([]string, len(s.VerifiedBy))
		for i, k := range s.VerifiedBy {
			by[i] = k
			if v := s.Versions[k]; v != "" {
				by[i] += " (version " + v + ")"
			}
		}
		parts = append(parts, "verified by "+strings.Join(by, ", "))
	}
	keys := make([]string, 0, len(s.Rejections))
	for k := range s.Rejections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+s.Rejections[k])
	}
	if len(s.Failed) > 1 {
		parts = append(parts, "also fails "+strings.Join(s.Failed[1:], "; "))
	}
	return strings.Join(parts, "; ")
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
