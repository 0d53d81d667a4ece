package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry"
)

func runCheckConfig(args []string) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	cfgPath := fs.String("config", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	snap, err := cfg.Snapshot(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	if _, err := registry.New(cfg.Registry); err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	fmt.Printf("%s: OK (snapshot %s)\n\nkeys:\n", cfg.Path, snap.ID)
	for _, k := range snap.Keys.Keys() {
		fmt.Printf("  %-16s %-11s %s  %s\n", k.Name, k.Algorithm, k.Fingerprint, k.Source)
	}
	for _, sp := range cfg.KMSKeys {
		pin := "follows the current version, grace " + sp.Grace.String()
		if sp.Ref.Pin != "" {
			pin = "pinned to version " + sp.Ref.Pin
		}
		fmt.Printf("  %-16s %-11s %s (%s; synced by the daemon)\n", sp.Name, "kms", sp.Ref.URI, pin)
	}
	if certs := snap.Keys.Certs(); len(certs) > 0 {
		fmt.Println("\ncertificates:")
		for _, c := range certs {
			fmt.Printf("  %-16s %-4s %s  %s (expires %s)\n", c.Name, c.Kind, c.Fingerprint, c.Certs[0].Subject, c.Certs[0].NotAfter.Format("2006-01-02"))
		}
	}
	fmt.Println("\npolicies (first match wins; unmatched images are denied):")
	for i, p := range cfg.Policies {
		scopes := make([]string, len(p.Scopes))
		for j, s := range p.Scopes {
			scopes[j] = s.Pattern
		}
		fmt.Printf("  %d. %-14s %-8s %s\n", i+1, p.Name, p.Mode, strings.Join(scopes, ", "))
		if len(p.Namespaces) > 0 {
			fmt.Printf("     namespaces: %s\n", strings.Join(p.Namespaces, ", "))
		}
		if p.Cosign != nil {
			every := ""
			if p.Cosign.EverySignature {
				every = "; every signature must verify"
			}
			fmt.Printf("     cosign: %s%s\n", p.Cosign.Rule(), every)
		}
		if n := p.Notation; n != nil {
			fmt.Printf("     notation: %s, level %s, identities %s\n", n.Rule(), n.Level, strings.Join(n.Identities, "; "))
		}
		if p.Cosign != nil && p.Notation != nil {
			fmt.Printf("     signatures: %s\n", p.Signatures)
		}
	}
	return exitOK
}
