package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/prove"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
)

// CheckConfigSchema versions signgate check-config's JSON output.
const CheckConfigSchema = "signgate.dev/check-config/v1"

const checkConfigHelp = `usage: signgate check-config [--config F] [--kms] [--output text|json]

Validates the config as the daemon would load it (every error names the
file, the key and the policy), then summarises its keys, certificates and
policies in the order they match. With --kms, also asks each KMS for its
keys' versions.

Exit 0: valid; 1: valid, but a KMS key could not be synced (--kms);
2: usage error or an invalid config.
`

// checkReport is what check-config found: printed as text, or as JSON
// with --output json (then error holds an invalid config's errors).
type checkReport struct {
	Schema       string        `json:"schema"`
	Config       string        `json:"config"`
	Valid        bool          `json:"valid"`
	Snapshot     string        `json:"snapshot,omitempty"`
	Warnings     []string      `json:"warnings"`
	Keys         []checkKey    `json:"keys"`
	Certificates []checkCert   `json:"certificates"`
	Policies     []checkPolicy `json:"policies"`
	// KMS: with --kms, each KMS key's versions as synced now.
	KMS      []checkKMSVersion `json:"kms,omitempty"`
	KMSError string            `json:"kms_error,omitempty"`
	Error    string            `json:"error,omitempty"`
	// PolicySource: where the keys and policies above come from, when the
	// config names a signed policy artifact.
	PolicySource *checkPolicySource `json:"policy_source,omitempty"`
	// HookPrograms: [hooks] allowed_programs, what other NRI plugins'
	// hooks may run; empty: none.
	HookPrograms []string `json:"hook_programs"`
	// MountSources: [added_mounts] allowed_sources, the host directories
	// other NRI plugins' mounts may bind; empty: none.
	MountSources []string `json:"mount_sources"`
}

type checkPolicySource struct {
	Reference string    `json:"reference"`
	Serial    int64     `json:"serial"` // in force on this node; 0 for none
	Digest    string    `json:"digest,omitempty"`
	Verified  time.Time `json:"verified,omitzero"`
	Tenants   []string  `json:"tenants,omitempty"` // delegations in force: name=digest
}

type checkKey struct {
	Name        string `json:"name"`
	Algorithm   string `json:"algorithm"` // "kms" for a KMS key before it is synced
	Fingerprint string `json:"fingerprint,omitempty"`
	Source      string `json:"source"`
	Pin         string `json:"pin,omitempty"` // a KMS key's pinned version
	Grace       string `json:"grace,omitempty"`
}

type checkCert struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	Expires     time.Time `json:"expires"`
}

type checkPolicy struct {
	At           string             `json:"at"` // as errors name it: policy[0]
	Name         string             `json:"name"`
	Mode         string             `json:"mode"`
	Scopes       []string           `json:"scopes"`
	Namespaces   []string           `json:"namespaces,omitempty"`
	Cosign       string             `json:"cosign,omitempty"`
	Every        bool               `json:"every_signature,omitempty"`
	Notation     string             `json:"notation,omitempty"`
	Signatures   string             `json:"signatures,omitempty"` // how cosign and notation combine
	Attestations []checkAttestation `json:"attestations,omitempty"`
	// OnUntrustedRunning: report or stop (docs/operations.md#running-containers).
	OnUntrustedRunning string `json:"on_untrusted_running"`
	StopConfirm        string `json:"stop_confirm"`
	// StopUnansweredAfter: a container the registry leaves unanswered this
	// long is stopped; absent when the policy has none.
	StopUnansweredAfter string `json:"stop_unanswered_after,omitempty"`
}

type checkAttestation struct {
	Name          string   `json:"name"`
	PredicateType string   `json:"predicate_type"`
	Signers       string   `json:"signers"`
	Conditions    []string `json:"conditions,omitempty"`
}

type checkKMSVersion struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Algorithm   string `json:"algorithm,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	State       string `json:"state,omitempty"` // "current" or "grace until ..."
	Error       string `json:"error,omitempty"` // cannot sync, no trusted version, or a version that cannot be used
}

func runCheckConfig(args []string) int {
	c := newCommand("check-config", checkConfigHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file")
	syncKMS := c.fs.Bool("kms", false, "also ask the KMS for each KMS key's versions, with this process's credentials (read-only: the daemon's state is not written)")
	c.outputFlag(CheckConfigSchema)
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	rep, code := checkConfig(*cfgPath, *syncKMS)
	switch {
	case *c.output == "json":
		_ = writeJSON(os.Stdout, rep)
	case rep.Error != "":
		fmt.Fprintln(os.Stderr, "signgate:", rep.Error)
	default:
		if rep.KMSError != "" {
			fmt.Fprintln(os.Stderr, "signgate:", rep.KMSError)
		}
		printCheck(rep)
	}
	return code
}

func checkConfig(path string, syncKMS bool) (*checkReport, int) {
	rep := &checkReport{Schema: CheckConfigSchema, Config: path, Warnings: []string{}, Keys: []checkKey{}, Certificates: []checkCert{}, Policies: []checkPolicy{}}
	fail := func(err error) (*checkReport, int) {
		rep.Error = err.Error()
		return rep, exitUsage
	}
	cfg, err := setup.Load(path)
	if err != nil {
		return fail(err)
	}
	if src := cfg.Source; src != nil {
		rep.PolicySource = &checkPolicySource{Reference: src.Reference}
		if k := src.Kept; k != nil {
			rep.PolicySource.Serial, rep.PolicySource.Digest, rep.PolicySource.Verified = k.Serial, k.Digest, k.Verified
			for _, n := range slices.Sorted(maps.Keys(k.Tenants)) {
				rep.PolicySource.Tenants = append(rep.PolicySource.Tenants, n+"="+k.Tenants[n].Digest)
			}
		}
	}
	snap, err := cfg.Snapshot(context.Background())
	if err != nil {
		return fail(err)
	}
	if _, err := registry.New(cfg.RegistryConfig()); err != nil {
		return fail(err)
	}
	if _, err := prove.ParseSettings(cfg); err != nil {
		return fail(err)
	}
	rep.Valid, rep.Snapshot = true, snap.ID
	rep.HookPrograms = append([]string{}, cfg.Hooks.AllowedPrograms...)
	rep.MountSources = append([]string{}, cfg.AddedMounts.AllowedSources...)
	rep.Warnings = append(rep.Warnings, cfg.Warnings()...)
	for _, g := range snap.Keys.Shared() {
		rep.Warnings = append(rep.Warnings, sharedWarning(g))
	}
	for _, k := range snap.Keys.Keys() {
		rep.Keys = append(rep.Keys, checkKey{Name: k.Name, Algorithm: k.Algorithm, Fingerprint: k.Fingerprint, Source: k.Source})
	}
	for _, sp := range cfg.KMSKeys {
		k := checkKey{Name: sp.Name, Algorithm: "kms", Source: sp.Ref.URI, Pin: sp.Ref.Pin}
		if k.Pin == "" {
			k.Grace = sp.Grace.String()
		}
		rep.Keys = append(rep.Keys, k)
	}
	code := exitOK
	if syncKMS && len(cfg.KMSKeys) > 0 && !checkKMS(cfg, rep) {
		code = exitDenied
	}
	for _, c := range snap.Keys.Certs() {
		rep.Certificates = append(rep.Certificates, checkCert{Name: c.Name, Kind: c.Kind, Fingerprint: c.Fingerprint, Subject: c.Certs[0].Subject.String(), Expires: c.Certs[0].NotAfter})
	}
	for i, p := range cfg.Policies {
		cp := checkPolicy{At: fmt.Sprintf("policy[%d]", i), Name: p.Name, Mode: string(p.Mode), Namespaces: p.Namespaces, OnUntrustedRunning: string(cfg.Running.For(p.Name)), StopConfirm: cfg.Running.ConfirmFor(p.Name).String()}
		if d := cfg.Running.UnansweredLimitFor(p.Name); d > 0 {
			cp.StopUnansweredAfter = d.String()
		}
		for _, s := range p.Scopes {
			cp.Scopes = append(cp.Scopes, s.Pattern)
		}
		if p.Cosign != nil {
			cp.Cosign, cp.Every = p.Cosign.Rule(), p.Cosign.EverySignature
		}
		if n := p.Notation; n != nil {
			cp.Notation = fmt.Sprintf("%s, level %s, trusted identities %s", n.Rule(), n.Level, strings.Join(n.Identities, "; "))
		}
		if p.Cosign != nil && p.Notation != nil {
			cp.Signatures = string(p.Signatures)
		}
		for _, a := range p.Attestations {
			ca := checkAttestation{Name: a.Name, PredicateType: a.PredicateType, Signers: a.Signers.Rule()}
			for _, c := range a.Conditions {
				ca.Conditions = append(ca.Conditions, c.Name)
			}
			cp.Attestations = append(cp.Attestations, ca)
		}
		rep.Policies = append(rep.Policies, cp)
	}
	return rep, code
}

// checkKMS syncs the config's KMS keys once, as the daemon would, and
// records what each would trust. It reports whether every key synced and
// no version the KMS calls enabled is one signgate cannot use.
func checkKMS(cfg *setup.Config, rep *checkReport) bool {
	s, err := setup.Syncer(cfg, nil, true)
	if err != nil {
		rep.KMSError = err.Error()
		return false
	}
	defer s.Close()
	_, err = setup.SyncKeys(cfg, s)
	// KMS versions can share material with other names only once synced.
	if snap, serr := cfg.Snapshot(context.Background(), s.Keys()...); serr == nil {
		for _, g := range snap.Keys.Shared() {
			if hasKMSKey(cfg, g) {
				rep.Warnings = append(rep.Warnings, sharedWarning(g))
			}
		}
	}
	rep.KMS = []checkKMSVersion{}
	usable := true
	for _, st := range s.Statuses() {
		if st.LastError != "" {
			rep.KMS = append(rep.KMS, checkKMSVersion{Name: st.Name, Error: "cannot sync: " + st.LastError})
			continue
		}
		if len(st.Versions) == 0 {
			rep.KMS = append(rep.KMS, checkKMSVersion{Name: st.Name, Error: "no trusted version: " + st.Problem})
		}
		for _, u := range st.Unusable {
			rep.KMS = append(rep.KMS, checkKMSVersion{Name: st.Name, Version: u.Version, Error: "version " + u.Version + " is enabled in the KMS but cannot be used: " + u.Reason})
			usable = false
		}
		for _, v := range st.Versions {
			state := "current"
			if !v.GraceUntil.IsZero() {
				state = "grace until " + v.GraceUntil.UTC().Format(time.RFC3339)
			}
			rep.KMS = append(rep.KMS, checkKMSVersion{Name: st.Name, Version: v.Version, Algorithm: v.Algorithm, Fingerprint: v.Fingerprint, State: state})
		}
	}
	return err == nil && usable
}

func sharedWarning(names []string) string {
	return fmt.Sprintf("keys %s hold the same key material; a threshold counts them as one key", strings.Join(names, ", "))
}

// hasKMSKey reports whether a group names a KMS key (static-only groups
// were said already).
func hasKMSKey(cfg *setup.Config, names []string) bool {
	for _, n := range names {
		for _, sp := range cfg.KMSKeys {
			if sp.Name == n {
				return true
			}
		}
	}
	return false
}
