package setup

import (
	"fmt"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry/podsecrets"
)

// PodSecrets is the source of pods' own pull secrets that
// [registry.pod_pull_secrets] asks for; nil when it is off.
func (c *Config) PodSecrets() (*podsecrets.Source, error) {
	ps := c.Registry.PodPullSecrets
	if !ps.Enabled {
		return nil, nil
	}
	var conn podsecrets.Conn
	var err error
	if ps.Kubeconfig != "" {
		conn, err = podsecrets.FromKubeconfig(absPath(ps.Kubeconfig))
	} else {
		conn, err = podsecrets.InCluster(ps.APIServer)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: registry.pod_pull_secrets: %w", c.Path, err)
	}
	src, err := podsecrets.New(podsecrets.Settings{Conn: conn, ServiceAccount: ps.ServiceAccount, Timeout: ps.Timeout, Refresh: ps.Refresh, MaxNames: config.DefaultPodSecretsMaxNames})
	if err != nil {
		return nil, fmt.Errorf("%s: registry.pod_pull_secrets: %w", c.Path, err)
	}
	return src, nil
}
