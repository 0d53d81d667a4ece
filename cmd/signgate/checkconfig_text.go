package main

import (
	"fmt"
	"strings"

	"github.com/signgate/signgate/config"
)

// printCheck prints check-config's report for people.
func printCheck(rep *checkReport) {
	fmt.Printf("%s: OK (snapshot %s)\n", rep.Config, rep.Snapshot)
	for _, w := range rep.Warnings {
		fmt.Printf("WARNING: %s\n", w)
	}
	if ps := rep.PolicySource; ps != nil {
		if ps.Serial == 0 {
			fmt.Printf("\npolicy: from %s; none verified on this node yet\n", ps.Reference)
		} else {
			fmt.Printf("\npolicy: from %s, serial %d (%s), last confirmed %s\n", ps.Reference, ps.Serial, ps.Digest, ps.Verified.UTC().Format("2006-01-02 15:04:05Z"))
		}
		for _, t := range ps.Tenants {
			fmt.Printf("  delegated: %s\n", t)
		}
	}
	fmt.Printf("\nkeys:\n")
	for _, k := range rep.Keys {
		switch {
		case k.Algorithm != "kms":
			fmt.Printf("  %-16s %-11s %s  %s\n", k.Name, k.Algorithm, k.Fingerprint, k.Source)
		case k.Pin != "":
			fmt.Printf("  %-16s %-11s %s (pinned to version %s; synced by the daemon)\n", k.Name, "kms", k.Source, k.Pin)
		default:
			fmt.Printf("  %-16s %-11s %s (follows the current version, grace %s; synced by the daemon)\n", k.Name, "kms", k.Source, k.Grace)
		}
	}
	if rep.KMS != nil {
		fmt.Println("\nKMS keys, synced now:")
		for _, v := range rep.KMS {
			if v.Error != "" {
				fmt.Printf("  %-16s %s\n", v.Name, v.Error)
				continue
			}
			fmt.Printf("  %-16s %s %s %s (%s)\n", v.Name, v.Version, v.Algorithm, v.Fingerprint, v.State)
		}
	}
	if len(rep.Certificates) > 0 {
		fmt.Println("\ncertificates:")
		for _, c := range rep.Certificates {
			fmt.Printf("  %-16s %-4s %s  %s (expires %s)\n", c.Name, c.Kind, c.Fingerprint, c.Subject, c.Expires.Format("2006-01-02"))
		}
	}
	if len(rep.HookPrograms) == 0 {
		fmt.Println("\nhooks other NRI plugins add: all refused (no [hooks] allowed_programs)")
	} else {
		fmt.Printf("\nhooks other NRI plugins add may run only: %s (still judged by their arguments)\n", strings.Join(rep.HookPrograms, ", "))
	}
	if len(rep.MountSources) == 0 {
		fmt.Println("host directories other NRI plugins add mounts of: all refused (no [added_mounts] allowed_sources)")
	} else {
		fmt.Printf("host directories other NRI plugins add mounts of: only under %s (still judged where they lead)\n", strings.Join(rep.MountSources, ", "))
	}
	fmt.Println("\npolicies (first match wins; unmatched images are denied):")
	for _, p := range rep.Policies {
		// Numbered as errors number them: policy[0] is the first.
		fmt.Printf("  %s %-14s %-8s %s\n", p.At, p.Name, p.Mode, strings.Join(p.Scopes, ", "))
		if len(p.Namespaces) > 0 {
			fmt.Printf("     namespaces: %s\n", strings.Join(p.Namespaces, ", "))
		}
		if p.Cosign != "" {
			every := ""
			if p.Every {
				every = "; every signature must verify"
			}
			fmt.Printf("     cosign: %s%s\n", p.Cosign, every)
		}
		if p.Notation != "" {
			fmt.Printf("     notation: %s\n", p.Notation)
		}
		if p.Signatures != "" {
			fmt.Printf("     signatures: %s\n", p.Signatures)
		}
		for _, a := range p.Attestations {
			fmt.Printf("     attestation %s: %s, signed by %s\n", a.Name, a.PredicateType, a.Signers)
			for _, c := range a.Conditions {
				fmt.Printf("       - %s\n", c)
			}
		}
		if p.OnUntrustedRunning == string(config.RunningStop) {
			fmt.Printf("     running containers it no longer trusts are stopped (on_untrusted_running), once denied twice %s apart (stop_confirm)\n", p.StopConfirm)
			if p.StopUnansweredAfter != "" {
				fmt.Printf("     and once the registry has left their verdict unanswered for %s (stop_unanswered_after)\n", p.StopUnansweredAfter)
			}
		}
	}
}
