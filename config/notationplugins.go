package config

// NotationPluginSection is [notation_plugins.NAME]: a Notary Project
// verification plugin signgate may run when a signature names NAME (a
// managed signing service's, such as AWS Signer's
// "com.amazonaws.signer.notation.plugin"). No other plugin ever runs:
// signgate never looks in notation's plugin directory.
type NotationPluginSection struct {
	Path string `toml:"path"` // absolute, never resolved or looked up
	// Certs: the roots whose signatures it verifies; under another root, a
	// signature naming it is denied.
	Certs    []string `toml:"certs"`
	Timeout  string   `toml:"timeout"`   // bounds one run of the plugin
	CacheTTL string   `toml:"cache_ttl"` // how long its answer for a signature is reused
	// Env: what of signgate's environment the plugin gets beyond the
	// basics (names, or prefixes ending in '*': "AWS_*").
	Env []string `toml:"env"`
	// SHA256 pins the executable's content (hex), checked at load.
	SHA256 string `toml:"sha256"`
}
