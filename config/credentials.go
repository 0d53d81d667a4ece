package config

import "time"

// CredentialProvidersSection is [registry.credential_providers]: the
// kubelet's image credential provider plugins, as the kubelet is given
// them. The provider config itself is read and checked by
// registry/credprovider when the registry client is built.
type CredentialProvidersSection struct {
	// Config is the kubelet's --image-credential-provider-config.
	Config string `toml:"config"`
	// BinDir is the kubelet's --image-credential-provider-bin-dir: only
	// plugins in it, named by Config, ever run.
	BinDir               string `toml:"bin_dir"`
	ExecTimeout          string `toml:"exec_timeout"`
	ServiceAccountTokens string `toml:"service_account_tokens"`
}

// CredentialProviders is [registry.credential_providers] with defaults
// applied.
type CredentialProviders struct {
	Config, BinDir       string
	ExecTimeout          time.Duration // bounds one plugin run
	ServiceAccountTokens string        // "" (refuse token-mode providers) or "without"
}

func credentialProviders(p *Problems, c *Config, s CredentialProvidersSection) CredentialProviders {
	return CredentialProviders{
		Config:               c.Resolve(s.Config),
		BinDir:               c.Resolve(s.BinDir),
		ExecTimeout:          p.Duration("registry.credential_providers.exec_timeout", s.ExecTimeout, DefaultCredentialExecTimeout),
		ServiceAccountTokens: s.ServiceAccountTokens,
	}
}
