package prove

import (
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// MinInterval: each probe starts a pod sandbox; more often is load, not
// assurance.
const MinInterval = time.Minute

// Settings are the probe's keys, checked.
type Settings struct {
	Interval time.Duration // 0: the daemon does not probe
	Image    string
}

// ParseSettings checks [daemon] prove_interval and prove_image.
func ParseSettings(cfg *setup.Config) (Settings, error) {
	k := cfg.Daemon.Prove
	s := Settings{Image: k.Image}
	if s.Image == "" {
		s.Image = DefaultImage
	}
	if k.Interval != "" && k.Interval != "0" {
		d, err := time.ParseDuration(k.Interval)
		if err != nil || d < MinInterval {
			return s, fmt.Errorf("%s: daemon.prove_interval = %q: give a duration of at least %s, or 0 for off", cfg.Path, k.Interval, MinInterval)
		}
		s.Interval = d
	}
	if _, err := name.NewRepository(s.Image, name.StrictValidation); err != nil {
		return s, fmt.Errorf("%s: daemon.prove_image = %q: a repository without tag or digest, e.g. %q: %v", cfg.Path, k.Image, "registry.example.com/apps/signgate-prove", err)
	}
	return s, nil
}

// OptionsFor is a probe of the node cfg describes: its containerd, its
// plugin name, and the policy its config applies to the probe's name.
func OptionsFor(cfg *setup.Config, s Settings) Options {
	o := Options{Socket: cfg.Daemon.ContainerdSocket, Namespace: cfg.Daemon.ContainerdNamespace, Image: s.Image,
		Plugin: cfg.Daemon.PluginName, Snapshotters: cfg.Daemon.Snapshotters}
	if repo, err := name.NewRepository(s.Image, name.StrictValidation); err == nil {
		if canon, err := verify.CanonicalRepo(repo); err == nil {
			if p := cfg.Policies.Match(canon, PodNamespace); p != nil {
				o.Policy, o.Mode = p.Name, string(p.Mode)
			}
		}
	}
	return o
}
