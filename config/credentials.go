package config

import "github.com/signgate/signgate/registry/credprovider"

// credentialProvidersSection is [registry.credential_providers]: the
// kubelet's image credential provider plugins, as the kubelet is given
// them. Its checks are registry/credprovider's, when the registry client
// is built.
type credentialProvidersSection struct {
	// Config is the kubelet's --image-credential-provider-config.
	Config string `toml:"config"`
	// BinDir is the kubelet's --image-credential-provider-bin-dir: only
	// plugins in it, named by Config, ever run.
	BinDir               string `toml:"bin_dir"`
	ExecTimeout          string `toml:"exec_timeout"`
	ServiceAccountTokens string `toml:"service_account_tokens"`
}

func (s credentialProvidersSection) settings(v *validator) credprovider.Settings {
	return credprovider.Settings{
		Config:               s.Config,
		BinDir:               s.BinDir,
		ExecTimeout:          v.duration("registry.credential_providers.exec_timeout", s.ExecTimeout, credprovider.DefaultExecTimeout),
		ServiceAccountTokens: credprovider.TokenMode(s.ServiceAccountTokens),
	}
}
