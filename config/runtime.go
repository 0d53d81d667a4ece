package config

import "fmt"

// RuntimeSection is [daemon.runtime]: which container runtime's records
// signgate reads to learn what a container runs. containerd is asked over
// its API ([daemon] containerd_socket); CRI-O's containers/storage is read
// from its files, so signgate needs CRI-O's storage root and driver.
type RuntimeSection struct {
	Name                        string `toml:"name"`
	CRIOStorageRoot             string `toml:"crio_storage_root"`
	CRIOStorageRunRoot          string `toml:"crio_storage_run_root"`
	CRIOStorageDriver           string `toml:"crio_storage_driver"`
	CRIOSocket                  string `toml:"crio_socket"`                    // CRI-O's CRI, to stop containers (crio_socket.go)
	CRIOCheckpointRestoreUnsafe bool   `toml:"crio_checkpoint_restore_unsafe"` // crio/criu.go
	CRIOConfig                  string `toml:"crio_config"`                    // CRI-O's files, read without crio_socket (crio/criu.go)
	CRIOConfigDir               string `toml:"crio_config_dir"`                // its drop-ins
}

// Runtime names the container runtime and where its records are, with
// defaults applied.
type Runtime struct {
	Name               string // RuntimeContainerd, RuntimeCRIO or RuntimeAuto
	CRIOStorageRoot    string
	CRIOStorageRunRoot string
	CRIOStorageDriver  string
	CRIOSocket         string // "" when not named: nothing is stopped on CRI-O
	// CRIOCheckpointRestoreUnsafe admits creations on a CRI-O that
	// restores checkpoints (enable_criu_support on); refused otherwise.
	CRIOCheckpointRestoreUnsafe bool
	// CRIOConfig and CRIOConfigDir are crio's --config and --config-dir,
	// read for enable_criu_support when CRIOSocket is "".
	CRIOConfig, CRIOConfigDir string
}

// The runtimes signgate gates, and "auto": the one NRI connects signgate
// to, as its Configure call names it.
const (
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "crio"
	RuntimeAuto       = "auto"
)

// NRINames is how each runtime names itself over NRI.
var NRINames = map[string]string{RuntimeContainerd: "containerd", RuntimeCRIO: "cri-o"}

// runtime applies the defaults and refuses a runtime signgate does not know.
func runtime(p *Problems, r RuntimeSection) Runtime {
	out := Runtime{
		Name:                        Or(r.Name, DefaultRuntime),
		CRIOStorageRoot:             Or(r.CRIOStorageRoot, DefaultCRIOStorageRoot),
		CRIOStorageRunRoot:          Or(r.CRIOStorageRunRoot, DefaultCRIOStorageRunRoot),
		CRIOStorageDriver:           Or(r.CRIOStorageDriver, DefaultCRIOStorageDriver),
		CRIOSocket:                  crioSocket(p, r.CRIOSocket),
		CRIOCheckpointRestoreUnsafe: r.CRIOCheckpointRestoreUnsafe,
		CRIOConfig:                  absPath(p, "daemon.runtime.crio_config", Or(r.CRIOConfig, DefaultCRIOConfig)),
		CRIOConfigDir:               absPath(p, "daemon.runtime.crio_config_dir", Or(r.CRIOConfigDir, DefaultCRIOConfigDir)),
	}
	if out.Name != RuntimeContainerd && out.Name != RuntimeCRIO && out.Name != RuntimeAuto {
		p.Errorf("daemon.runtime.name = %q: %q, %q or %q", r.Name, RuntimeContainerd, RuntimeCRIO, RuntimeAuto)
	}
	return out
}

// onCRIO refuses what signgate cannot do on CRI-O, rather than accept a
// config that would silently not do it: stopping a running container
// with no crio_socket named (CRI-O's storage does not say which containers
// run) and the enforcement probe (it runs through containerd's CRI).
func (c *Config) onCRIO(p *Problems, policies []PolicySection) {
	if c.Daemon.Runtime.Name != RuntimeCRIO {
		return
	}
	for _, e := range crioRefusals(c, policies) {
		p.Errorf("%s", e)
	}
}

// CRIORefusals is what of this config signgate cannot do on CRI-O: under
// name = "auto" the daemon says so once NRI names CRI-O.
func (c *Config) CRIORefusals() []string {
	return crioRefusals(c, c.File.Policy)
}

func crioRefusals(c *Config, policies []PolicySection) []string {
	var out []string
	for i, ps := range policies {
		if RunningAction(ps.OnUntrustedRunning) == RunningStop && c.Daemon.Runtime.CRIOSocket == "" {
			out = append(out, fmt.Sprintf("policy[%d] %q.on_untrusted_running = %q: on CRI-O signgate stops a running container through CRI-O's CRI, and [daemon.runtime] crio_socket names none; name it, or use %q", i, ps.Name, RunningStop, RunningReport))
		}
	}
	if iv := c.Daemon.Prove.Interval; iv != "" && iv != "0" {
		out = append(out, fmt.Sprintf("daemon.prove_interval = %q: the enforcement probe runs through containerd's CRI, not CRI-O's", iv))
	}
	return out
}
