package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
)

// kmsSettings turns [kms.aws], [kms.gcp], [kms.azure] and [kms.vault] into
// the providers' settings; a file they name must exist.
func kmsSettings(p *config.Problems, km config.KMS) map[string]kms.Settings {
	out := map[string]kms.Settings{}
	for _, sec := range []string{"aws", "gcp", "azure", "vault"} {
		s := km.Providers[sec]
		mustExist(p, "kms."+sec+".ca_file", s.CAFile)
		mustExist(p, "kms."+sec+".token_file", s.TokenFile)
		out[sec] = kms.Settings{Endpoint: s.Endpoint, Region: s.Region, TokenFile: s.TokenFile, TransitPath: s.TransitPath, CAFile: s.CAFile, Insecure: s.Insecure}
	}
	return out
}

// mustExist says when a file the config names at key is not there.
func mustExist(p *config.Problems, key, path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err != nil {
		p.Errorf("%s: %v", key, err)
	}
}

// Syncer builds the KMS key syncer for cfg, with a provider for each
// scheme its keys use, built on first use with the settings section the
// provider names. It adopts what prev knew of unchanged keys. A read-only
// syncer never writes the state file (commands other than the daemon).
func Syncer(cfg *Config, prev *keysync.Syncer, readOnly bool) (*keysync.Syncer, error) {
	providers := map[string]kms.Provider{}
	for _, sp := range cfg.KMSKeys {
		if providers[sp.Ref.Scheme] != nil {
			continue
		}
		f, ok := kms.Lookup(sp.Ref.Scheme)
		if !ok {
			return nil, fmt.Errorf("%s: keys.%s: KMS scheme %q is not in this build", cfg.Path, sp.Name, sp.Ref.Scheme)
		}
		providers[sp.Ref.Scheme] = kms.Lazy(sp.Ref.Scheme, f, cfg.KMSSettings[f.Section])
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

// KeyStart is what starting a syncer's keys found.
type KeyStart struct {
	Loaded   int       // keys the last-known-good state held
	Written  time.Time // when that state was written
	StateErr error     // why the state was not used; keysync.ErrNoState if there is none yet
	// Deferred: the state held every key and the caller asked to start on
	// it, so no sync ran; the caller syncs soon.
	Deferred bool
	Changes  []keysync.Change // what the sync changed
	SyncErr  error            // the sync did not reach every key
}

// StateIgnored reports whether a state file was there but failed a check,
// which the caller should say.
func (k KeyStart) StateIgnored() bool {
	return k.StateErr != nil && !errors.Is(k.StateErr, keysync.ErrNoState)
}

// StartKeys brings s's keys up, the same way for the daemon and every
// command, so they trust the same versions: the last-known-good state
// first, then a sync within kms.request_timeout. With deferSync, a state
// holding every key is enough to start on (the daemon: a KMS that is down
// must not hold up container creation); the caller syncs soon after.
func StartKeys(cfg *Config, s *keysync.Syncer, deferSync bool) KeyStart {
	var ks KeyStart
	if s.Len() == 0 {
		return ks
	}
	ks.Loaded, ks.Written, ks.StateErr = s.LoadState()
	if deferSync && ks.Loaded == s.Len() {
		ks.Deferred = true
		return ks
	}
	ks.Changes, ks.SyncErr = SyncKeys(cfg, s)
	return ks
}

// SyncKeys asks the KMS about s's keys once, within kms.request_timeout.
func SyncKeys(cfg *Config, s *keysync.Syncer) ([]keysync.Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.KMS.RequestTimeout)
	defer cancel()
	return s.Sync(ctx)
}
