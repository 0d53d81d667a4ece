package config_test

import (
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// [registry.pod_pull_secrets] is off unless enabled, takes its defaults
// from defaults.go, resolves its kubeconfig against the config's
// directory, and refuses settings that cannot work.
func TestPodPullSecretsSection(t *testing.T) {
	c, err := config.Parse("/etc/signgate/config.toml", []byte(""))
	if err != nil || c.Registry.PodPullSecrets.Enabled {
		t.Fatalf("off by default: %v %+v", err, c.Registry.PodPullSecrets)
	}
	c, err = config.Parse("/etc/signgate/config.toml", []byte("[registry.pod_pull_secrets]\nenabled = true\nkubeconfig = \"kubeconfig\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Registry.PodPullSecrets
	if ps.Kubeconfig != "/etc/signgate/kubeconfig" || ps.Timeout != config.DefaultPodSecretsTimeout || ps.Refresh != config.DefaultPodSecretsRefresh || ps.ServiceAccount {
		t.Errorf("got %+v", ps)
	}
	for body, want := range map[string]string{
		"api_server = \"http://10.0.0.1:6443\"\n":            `registry.pod_pull_secrets.api_server = "http://10.0.0.1:6443": want https://host:port`,
		"api_server = \"https://a:1\"\nkubeconfig = \"k\"\n": `api_server "https://a:1" and kubeconfig "k": give one`,
		"timeout = \"soon\"\n":                               `registry.pod_pull_secrets.timeout = "soon"`,
	} {
		if _, err := config.Parse("/etc/signgate/config.toml", []byte("[registry.pod_pull_secrets]\nenabled = true\n"+body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", body, err)
		}
	}
	if _, err := config.Parse("/etc/signgate/config.toml", []byte("[registry.pod_pull_secrets]\nservice_account = true\n")); err == nil || !strings.Contains(err.Error(), "enabled is not true") {
		t.Errorf("settings while off: %v", err)
	}
}
