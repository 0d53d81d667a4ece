package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

const checkConfigHelp = `usage: signgate check-config [--config F] [--kms]

Validates the config as the daemon would load it (every error names the
file, the key and the policy), then summarises its keys, certificates and
policies in the order they match. With --kms, also asks each KMS for its
keys' versions.

Exit 0: valid; 1: valid, but a KMS key could not be synced (--kms);
2: usage error or an invalid config.
`

func runCheckConfig(args []string) int {
	c := newCommand("check-config", checkConfigHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file")
	syncKMS := c.fs.Bool("kms", false, "also ask the KMS for each KMS key's versions, with this process's credentials (read-only: the daemon's state is not written)")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
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
	fmt.Printf("%s: OK (snapshot %s)\n", cfg.Path, snap.ID)
	for _, w := range cfg.Warnings() {
		fmt.Printf("WARNING: %s\n", w)
	}
	warnShared(snap)
	fmt.Printf("\nkeys:\n")
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
	kmsFailed := false
	if *syncKMS && len(cfg.KMSKeys) > 0 {
		kmsFailed = !checkKMS(cfg)
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
		// Numbered as errors number them: policy[0] is the first.
		fmt.Printf("  policy[%d] %-14s %-8s %s\n", i, p.Name, p.Mode, strings.Join(scopes, ", "))
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
		for _, a := range p.Attestations {
			fmt.Printf("     attestation %s: %s, signed by %s\n", a.Name, a.PredicateType, a.Signers.Rule())
			for _, c := range a.Conditions {
				fmt.Printf("       - %s\n", c.Name)
			}
		}
	}
	if kmsFailed {
		return exitDenied
	}
	return exitOK
}

// checkKMS syncs the config's KMS keys once, as the daemon would, and says
// what each would trust. It reports whether every key synced.
func checkKMS(cfg *config.Config) bool {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.KMS.RequestTimeout+time.Second)
	defer cancel()
	s, err := setup.Syncer(cfg, nil, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return false
	}
	defer s.Close()
	_, err = s.Sync(ctx)
	// KMS versions can share material with other names only once synced.
	if snap, serr := cfg.Snapshot(ctx, s.Keys()...); serr == nil {
		for _, g := range snap.Keys.Shared() {
			if hasKMSKey(cfg, g) {
				fmt.Printf("WARNING: keys %s hold the same key material; a threshold counts them as one key\n", strings.Join(g, ", "))
			}
		}
	}
	fmt.Println("\nKMS keys, synced now:")
	for _, st := range s.Statuses() {
		if st.LastError != "" {
			fmt.Printf("  %-16s cannot sync: %s\n", st.Name, st.LastError)
			continue
		}
		if len(st.Versions) == 0 {
			fmt.Printf("  %-16s no trusted version: %s\n", st.Name, st.Problem)
		}
		for _, v := range st.Versions {
			state := "current"
			if !v.GraceUntil.IsZero() {
				state = "grace until " + v.GraceUntil.UTC().Format(time.RFC3339)
			}
			fmt.Printf("  %-16s %s %s %s (%s)\n", st.Name, v.Version, v.Algorithm, v.Fingerprint, state)
		}
	}
	return err == nil
}

// warnShared names static keys that hold the same key material.
func warnShared(snap *verify.Snapshot) {
	for _, g := range snap.Keys.Shared() {
		fmt.Printf("WARNING: keys %s hold the same key material; a threshold counts them as one key\n", strings.Join(g, ", "))
	}
}

// hasKMSKey reports whether a group names a KMS key (static-only groups
// were said already).
func hasKMSKey(cfg *config.Config, names []string) bool {
	for _, n := range names {
		for _, sp := range cfg.KMSKeys {
			if sp.Name == n {
				return true
			}
		}
	}
	return false
}
