package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// defaultNRIPluginDir is NRI's default nri_plugin_dir.
const defaultNRIPluginDir = "/opt/nri/plugins"

// nriAccessFinding names CRI-O's NRI plugin directory, whose plugins CRI-O
// starts as root: NRI's validator requires a plugin by name only, so
// whoever can put a plugin there (or reach the NRI socket) can register
// one named as signgate and switch the gate off. It holds when the
// directory is absent or writable by root only.
func nriAccessFinding(cfg *CRIO, plugin string) Finding {
	dir := cfg.PluginDir
	if dir == "" {
		dir = defaultNRIPluginDir
	}
	f := Finding{Guarantee: "only root can add an NRI plugin (one named " + plugin + " would stand in for signgate)"}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Holds, f.Detail = true, fmt.Sprintf("nri_plugin_dir %s (%s) does not exist; keep the NRI socket root's only", dir, cfg.where(keyNRI+"nri_plugin_dir"))
		return f
	case err != nil:
		f.Detail = fmt.Sprintf("nri_plugin_dir %s: %v", dir, err)
		return f
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || info.Mode().Perm()&0o022 != 0 {
		f.Detail = fmt.Sprintf("nri_plugin_dir %s (%s) is %s, owned by uid %d: whoever can write it can have CRI-O start a plugin named %q; make it root's, mode 0755 or stricter", dir, cfg.where(keyNRI+"nri_plugin_dir"), info.Mode().Perm(), uidOf(st), plugin)
		return f
	}
	f.Holds, f.Detail = true, fmt.Sprintf("nri_plugin_dir %s (%s) is root's and not writable by others; keep the NRI socket root's only: access to either switches the gate off", dir, cfg.where(keyNRI+"nri_plugin_dir"))
	return f
}

func uidOf(st *syscall.Stat_t) int64 {
	if st == nil {
		return -1
	}
	return int64(st.Uid)
}
