// Package setup builds what the daemon and every command run on from a
// config: the KMS key syncer, the keystore snapshot, the registry client
// and the verification engine. One place, so `signgate verify` decides
// exactly as the daemon does.
package setup

import (
	"context"
	"fmt"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// Syncer builds the KMS key syncer for cfg, with a provider for each
// scheme its keys use, built on first use with the settings section the
// provider names. It adopts what prev knew of unchanged keys. A read-only
// syncer never writes the state file (commands other than the daemon).
func Syncer(cfg *config.Config, prev *keysync.Syncer, readOnly bool) (*keysync.Syncer, error) {
	providers := map[string]kms.Provider{}
	for _, sp := range cfg.KMSKeys {
		if providers[sp.Ref.Scheme] != nil {
			continue
		}
		f, ok := kms.Lookup(sp.Ref.Scheme)
		if !ok {
			return nil, fmt.Errorf("%s: keys.%s: KMS scheme %q is not in this build", cfg.Path, sp.Name, sp.Ref.Scheme)
		}
		providers[sp.Ref.Scheme] = kms.Lazy(sp.Ref.Scheme, f, cfg.KMS.Settings[f.Section])
	}
	s, err := keysync.New(cfg.KMSKeys, providers, keysync.Options{
		Interval:     cfg.KMS.SyncInterval,
		MaxStaleness: cfg.KMS.MaxStaleness,
		StateDir:     cfg.Daemon.StateDir,
		ReadOnly:     readOnly,
		Timeout:      cfg.KMS.RequestTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	s.Adopt(prev)
	return s, nil
}

// Engine builds the keystore snapshot (static keys, certificates, and the
// KMS versions the syncer trusts now), the registry client and the engine.
// observe, if set, hears of every verification run.
func Engine(cfg *config.Config, syncer *keysync.Syncer, observe func(*verify.Verdict)) (*verify.Engine, *registry.Client, error) {
	snap, err := cfg.Snapshot(context.Background(), syncer.Keys()...)
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New(cfg.Registry)
	if err != nil {
		return nil, nil, err
	}
	opts := cfg.Engine
	opts.Observe = observe
	return verify.NewEngine(snap, reg, opts), reg, nil
}
