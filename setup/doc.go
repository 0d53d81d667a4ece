// Package setup is the one place that turns a config into a gate: it reads
// the config (package config, pure data), reads the key, certificate and
// trust-root files it names, compiles its policies, and builds the KMS key
// syncer, the keystore snapshot, the registry client and the verification
// engine. The daemon and every command go through it, so `signgate verify`
// decides exactly as the daemon does.
//
// One file per job:
//
//	config.go      Load/Parse: config.Read, then everything below, one error
//	keys.go        [keys.NAME] and [certs.NAME]: read and parsed at load
//	trustroots.go  [trust_roots.NAME] and [identities.NAME]
//	policies.go    [[policy]]: compiled into verify.Policies
//	kms.go         the KMS key syncer, and starting its keys
//	engine.go      the snapshot, the registry client and the engine
//	warnings.go    what a valid config should still say loudly
package setup
