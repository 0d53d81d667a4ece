package verify

import (
	"fmt"
	"os"
	"syscall"
)

// PluginFile identifies a plugin's executable as setup checked it (owner,
// directories, mode): each run must find that same file, unchanged, or
// refuses, so a binary replaced or rewritten since is never run unchecked.
type PluginFile struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // ns
}

// StatPluginFile is path's identity now.
func StatPluginFile(path string) (PluginFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return PluginFile{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return PluginFile{}, fmt.Errorf("this system does not report the file's identity")
	}
	return PluginFile{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, nil
}

// checkFile: the executable is the one loaded.
func (p *NotationPlugin) checkFile() error {
	if p.File == (PluginFile{}) {
		return fmt.Errorf("its executable was not checked when the config was loaded")
	}
	now, err := StatPluginFile(p.exe())
	if err != nil {
		return err
	}
	if now != p.File {
		return fmt.Errorf("%s changed since the config was loaded (replaced or rewritten); reload signgate to check it again", p.exe())
	}
	return nil
}

// exe is what runs: the path with its symbolic links resolved at load.
func (p *NotationPlugin) exe() string {
	if p.Resolved != "" {
		return p.Resolved
	}
	return p.Path
}
