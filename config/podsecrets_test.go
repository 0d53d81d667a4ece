package config_test

import (
	"strings"
	"testing"
	"time"

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
		"timeout = \"1500ms\"\n":                             `registry.pod_pull_secrets.timeout = 1.5s: must be less than daemon.decision_deadline (1.5s)`,
	} {
		if _, err := config.Parse("/etc/signgate/config.toml", []byte("[registry.pod_pull_secrets]\nenabled = true\n"+body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", body, err)
		}
	}
	// The default timeout fits within a shorter deadline.
	c, err = config.Parse("/etc/signgate/config.toml", []byte("[daemon]\ndecision_deadline = \"1s\"\n[registry.pod_pull_secrets]\nenabled = true\n"))
	if err != nil || c.Registry.PodPullSecrets.Timeout != 500*time.Millisecond {
		t.Errorf("default timeout under a 1s deadline: %v %v", err, c.Registry.PodPullSecrets.Timeout)
	}
	if _, err := config.Parse("/etc/signgate/config.toml", []byte("[registry.pod_pull_secrets]\nservice_account = true\n")); err == nil || !strings.Contains(err.Error(), "enabled is not true") {
		t.Errorf("settings while off: %v", err)
	}
}
