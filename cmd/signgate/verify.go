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
	"github.com/signgate/signgate/daemon"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

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
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Engine.VerifyTimeout)
	defer cancel()
	// KMS keys as the daemon would have them: synced now, else the daemon's
	// last-known-good state (read, never written, from here).
	syncer, err := daemon.NewSyncer(cfg, nil, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	defer syncer.Close()
	if syncer.Len() > 0 {
		_, _, _ = syncer.LoadState()
		if _, err := syncer.Sync(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "signgate: warning:", err)
		}
	}
	snap, err := cfg.Snapshot(ctx, syncer.Keys()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	reg, err := registry.New(cfg.Registry)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	ref, err := name.ParseReference(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: image %q: %v\n", fs.Arg(0), err)
		return exitUsage
	}
	img, err := resolve(ctx, reg, ref)
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: image %s: cannot resolve to a digest: %v\n", ref, err)
		return exitDenied
	}
	engine := verify.NewEngine(snap, reg, cfg.Engine)
	v := engine.Decide(ctx, verify.Request{Image: img, Namespace: *namespace})
	if *output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	} else {
		printVerdict(os.Stdout, v)
	}
	if v.Allowed {
		return exitOK
	}
	return exitDenied
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
