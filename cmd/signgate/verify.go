package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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

func runVerify(args []string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	cfgPath := fs.String("config", config.DefaultPath, "config file")
	output := fs.String("output", "text", "output format: text or json")
	namespace := fs.String("namespace", "", "Kubernetes namespace to decide for (policies may be limited to namespaces)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: signgate verify [--config F] [--output text|json] IMAGE\n\nResolves a tag to its digest, then decides as the daemon would. Exit 0: allowed; 1: denied; 2: usage or config error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || (*output != "text" && *output != "json") {
		fs.Usage()
		return exitUsage
	}
	v, code, err := decideOnce(*cfgPath, fs.Arg(0), *namespace)
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
// verdict comes with exit 0 (allowed) or 1 (denied, including an image that
// cannot be resolved); an error with exit 2 (usage or config).
func decideOnce(cfgPath, image, namespace string) (*verify.Verdict, int, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, exitUsage, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Engine.VerifyTimeout)
	defer cancel()
	// KMS keys as the daemon would have them: synced now, else the daemon's
	// last-known-good state (read, never written, from here).
	syncer, err := setup.Syncer(cfg, nil, true)
	if err != nil {
		return nil, exitUsage, err
	}
	defer syncer.Close()
	if syncer.Len() > 0 {
		_, _, _ = syncer.LoadState()
		if _, err := syncer.Sync(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "signgate: warning:", err)
		}
	}
	engine, reg, err := setup.Engine(cfg, syncer, nil)
	if err != nil {
		return nil, exitUsage, err
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, exitUsage, fmt.Errorf("image %q: %w", image, err)
	}
	img, err := resolve(ctx, reg, ref)
	if err != nil {
		return &verify.Verdict{Image: ref.String(), Cause: verify.CauseImageUnknown, Reason: "cannot resolve to a digest: " + verify.Excerpt(err)}, exitDenied, nil
	}
	// The engine bounds the verification by registry.verify_timeout; wait a
	// little longer, so its own answer comes back rather than "pending".
	dctx, dcancel := context.WithTimeout(context.Background(), cfg.Engine.VerifyTimeout+2*time.Second)
	defer dcancel()
	v := engine.Decide(dctx, verify.Request{Image: img, Namespace: namespace})
	if v.Pending {
		// "retry shortly" is the daemon's word to the kubelet; a one-shot
		// command has simply run out of time.
		v.Reason = fmt.Sprintf("verification did not finish within registry.verify_timeout (%s)", cfg.Engine.VerifyTimeout)
	}
	if v.Allowed {
		return v, exitOK, nil
	}
	return v, exitDenied, nil
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
	fmt.Fprintf(w, "%s  %s@%s\n", strings.ToUpper(v.Decision()), v.Image, v.Digest)
	if v.Policy != "" {
		fmt.Fprintf(w, "  policy:   %s (%s)\n", v.Policy, v.Mode)
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
	fmt.Fprintf(w, "  took:     %s\n", v.Took.Round(time.Microsecond))
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
	return strings.Join(parts, "; ")
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
