package config

// runtimeSection is [daemon.runtime]: which container runtime's records
// signgate reads to learn what a container runs. containerd is asked over
// its API ([daemon] containerd_socket); CRI-O's containers/storage is read
// from its files, so signgate needs CRI-O's storage root and driver.
type runtimeSection struct {
	Name               string `toml:"name"`
	CRIOStorageRoot    string `toml:"crio_storage_root"`
	CRIOStorageRunRoot string `toml:"crio_storage_run_root"`
	CRIOStorageDriver  string `toml:"crio_storage_driver"`
}

// Runtime names the container runtime and where its records are.
type Runtime struct {
	Name               string // RuntimeContainerd or RuntimeCRIO
	CRIOStorageRoot    string
	CRIOStorageRunRoot string
	CRIOStorageDriver  string
}

// The runtimes signgate gates.
const (
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "crio"
)

// parse fills the defaults (containerd; CRI-O's own storage defaults) and
// refuses a runtime signgate does not know.
func (r runtimeSection) parse(v *validator) Runtime {
	out := Runtime{
		Name:               or(r.Name, RuntimeContainerd),
		CRIOStorageRoot:    or(r.CRIOStorageRoot, "/var/lib/containers/storage"),
		CRIOStorageRunRoot: or(r.CRIOStorageRunRoot, "/run/containers/storage"),
		CRIOStorageDriver:  or(r.CRIOStorageDriver, "overlay"),
	}
	if out.Name != RuntimeContainerd && out.Name != RuntimeCRIO {
		v.errorf("daemon.runtime.name = %q: %q or %q", r.Name, RuntimeContainerd, RuntimeCRIO)
	}
	return out
}
