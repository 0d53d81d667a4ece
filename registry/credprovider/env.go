package credprovider

import "os"

// inherited are the variables of signgate's own environment a plugin
// gets: where to find programs and write files, how to reach the network
// (proxies, CA bundles), and which AWS region and STS endpoints to use.
// Nothing that says who the plugin is or proves it: signgate's
// environment differs from the kubelet's by the KMS principal's
// credentials (AWS_ACCESS_KEY_ID, AWS_ROLE_ARN with
// AWS_WEB_IDENTITY_TOKEN_FILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*,
// VAULT_TOKEN, ... from the DaemonSet's envFrom), and a plugin given them
// would authenticate to the registry as that principal and could read
// them. Whatever a plugin needs beyond these, the provider config's env
// gives it, as the kubelet's admin wrote it.
var inherited = []string{
	"PATH", "HOME", "TMPDIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS",
}

// pluginEnv is a plugin's environment: the inherited variables signgate
// has, then the provider config's env (so the config's win).
func pluginEnv(config []string) []string {
	var env []string
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, config...)
}
