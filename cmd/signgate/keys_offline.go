package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/setup"
)

// listOffline answers keys list when the daemon cannot be reached: it says
// so plainly, then shows what the config names (its static keys, and its KMS
// keys with the last-known-good versions the daemon would start on), so a
// stopped daemon is not mistaken for one that trusts nothing.
func listOffline(cfgPath, output string, reach error) int {
	cfg, err := setup.Load(cfgPath)
	if err != nil {
		return keysFailed(output, fmt.Errorf("%v; and its config: %w", reach, err), exitUsage)
	}
	daemon := fmt.Sprintf("not running: %v", reach)
	keys, notes := offlineKeys(cfg)
	if output == "json" {
		if keys == nil {
			keys = []localapi.KeyInfo{}
		}
		_ = writeJSON(os.Stdout, keysOutput{Schema: KeysSchema, KeysResponse: localapi.KeysResponse{Keys: keys}, Daemon: daemon, Config: cfg.Path})
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "signgate: the daemon is not running (%v)\n", reach)
	fmt.Fprintf(os.Stderr, "signgate: showing the keys %s names, which the daemon would start on\n", cfg.Path)
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "signgate:", n)
	}
	printKeys(os.Stdout, keys)
	return exitOK
}

// offlineKeys lists the config's keys: static ones parsed from the config,
// KMS ones from the last-known-good state (or as not synced when there is
// none). notes say what the state could not tell.
func offlineKeys(cfg *setup.Config) (keys []localapi.KeyInfo, notes []string) {
	// setup.Load has parsed each static key already; this cannot fail
	// unless a key file changed since.
	static, err := cfg.Keys.Load(context.Background())
	if err != nil {
		notes = append(notes, fmt.Sprintf("static keys in %s: %v", cfg.Path, err))
	}
	for _, k := range static {
		keys = append(keys, localapi.KeyInfo{Name: k.Name, Source: k.Source, Fingerprint: k.Fingerprint, Algorithm: k.Algorithm, State: "static"})
	}
	if len(cfg.KMSKeys) == 0 {
		return keys, notes
	}
	statuses, written, err := keysync.ReadState(cfg.Daemon.StateDir)
	switch {
	case errors.Is(err, keysync.ErrNoState):
		notes = append(notes, fmt.Sprintf("no last-known-good KMS keys in %s: the daemon has never synced them", cfg.Daemon.StateDir))
	case err != nil:
		notes = append(notes, fmt.Sprintf("last-known-good KMS keys in %s: %v", cfg.Daemon.StateDir, err))
	default:
		notes = append(notes, fmt.Sprintf("showing the last-known-good KMS keys in %s, written %s", cfg.Daemon.StateDir, written.UTC().Format(time.RFC3339)))
	}
	saved := map[string]keysync.Status{}
	for _, st := range statuses {
		saved[st.Name] = st
	}
	for _, sp := range cfg.KMSKeys {
		st, ok := saved[sp.Name]
		for _, u := range st.Unusable {
			keys = append(keys, localapi.KeyInfo{Name: st.Name, Source: st.Source, Version: u.Version, LastSync: st.LastSync, State: "untrusted: unusable: " + u.Reason})
		}
		if !ok || len(st.Versions) == 0 {
			keys = append(keys, localapi.KeyInfo{Name: sp.Name, Source: sp.Ref.URI, State: "untrusted: not synced (the daemon is not running)"})
			continue
		}
		for _, v := range st.Versions {
			state := "last-known-good"
			if !v.GraceUntil.IsZero() {
				state += ", grace until " + v.GraceUntil.UTC().Format(time.RFC3339)
			}
			keys = append(keys, localapi.KeyInfo{Name: st.Name, Source: st.Source, Version: v.Version, Fingerprint: v.Fingerprint, Algorithm: v.Algorithm, LastSync: st.LastSync, State: state})
		}
	}
	return keys, notes
}
