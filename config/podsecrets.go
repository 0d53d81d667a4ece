package config

import (
	"net/url"
	"time"
)

// PodPullSecretsSection is [registry.pod_pull_secrets]: read each pod's own
// image pull secrets from the Kubernetes API server and verify its images
// with them (registry/podsecrets). Off unless enabled: it needs RBAC to get
// pods and secrets, which lets signgate's token read every secret in the
// cluster (docs/install.md, Pod pull secrets).
type PodPullSecretsSection struct {
	Enabled bool `toml:"enabled"`
	// Kubeconfig reaches the API server from outside a pod (systemd);
	// empty: the pod's service-account token and CA, in-cluster.
	Kubeconfig string `toml:"kubeconfig"`
	// APIServer replaces the in-cluster address (https://host:port): a
	// pod on the host network without kube-proxy cannot reach the
	// service IP.
	APIServer string `toml:"api_server"`
	// ServiceAccount: also the pull secrets the pod's service account
	// names now (get on serviceaccounts).
	ServiceAccount bool   `toml:"service_account"`
	Timeout        string `toml:"timeout"`
	Refresh        string `toml:"refresh"`
}

// PodPullSecrets is [registry.pod_pull_secrets] with defaults applied.
type PodPullSecrets struct {
	Enabled        bool
	Kubeconfig     string
	APIServer      string
	ServiceAccount bool
	Timeout        time.Duration // bounds one pod's lookups
	Refresh        time.Duration // how long a secret read is used
}

func podPullSecrets(p *Problems, c *Config, s PodPullSecretsSection) PodPullSecrets {
	out := PodPullSecrets{
		Enabled:        s.Enabled,
		Kubeconfig:     c.Resolve(s.Kubeconfig),
		APIServer:      s.APIServer,
		ServiceAccount: s.ServiceAccount,
		Timeout:        p.Duration("registry.pod_pull_secrets.timeout", s.Timeout, DefaultPodSecretsTimeout),
		Refresh:        p.Duration("registry.pod_pull_secrets.refresh", s.Refresh, DefaultPodSecretsRefresh),
	}
	// The lookup runs within the decision: a timeout as long as the
	// deadline leaves nothing for the verification it is for.
	if s.Enabled && out.Timeout >= c.Daemon.DecisionDeadline {
		if s.Timeout != "" {
			p.Errorf("registry.pod_pull_secrets.timeout = %s: must be less than daemon.decision_deadline (%s), within which it runs", out.Timeout, c.Daemon.DecisionDeadline)
		} else {
			out.Timeout = c.Daemon.DecisionDeadline / 2
		}
	}
	if s.APIServer != "" {
		if u, err := url.Parse(s.APIServer); err != nil || u.Scheme != "https" || u.Host == "" {
			p.Errorf("registry.pod_pull_secrets.api_server = %q: want https://host:port", s.APIServer)
		}
		if s.Kubeconfig != "" {
			p.Errorf("registry.pod_pull_secrets: api_server %q and kubeconfig %q: give one", s.APIServer, s.Kubeconfig)
		}
	}
	if !s.Enabled && (s.Kubeconfig != "" || s.APIServer != "" || s.ServiceAccount) {
		p.Errorf("registry.pod_pull_secrets: settings given but enabled is not true")
	}
	return out
}
