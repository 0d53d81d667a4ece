package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/trustpath"
	"github.com/signgate/signgate/nri"
)

// addedMountSources refuses an [added_mounts] allowed_sources entry that
// nri never lets a mount bind (a link into the runtimes' state, a
// directory containers write, one another user may swap): listing one
// allows nothing, so it is a mistake to say, not to keep. So is one at,
// above or in what decides what runs: signgate's, the runtimes' and
// CDI's config, the programs hooks run and signgate itself.
func addedMountSources(p *config.Problems, cc *config.Config) {
	if cc.File.AddedMounts == nil {
		return
	}
	guarded := guardedDirs(cc)
	for i, dir := range cc.File.AddedMounts.AllowedSources {
		if !slices.Contains(cc.AddedMounts.AllowedSources, dir) {
			continue // config said why
		}
		key := fmt.Sprintf("added_mounts.allowed_sources[%d] = %q", i, dir)
		if why := nri.MountSourceRefused(dir, cc.AddedMounts.StateDirs); why != "" {
			p.Errorf("%s: %s", key, why)
			continue
		}
		if g := guardedDir(dir, guarded); g != "" {
			p.Errorf("%s: is, lies above or lies in %s, which holds what decides what containers and the host run: a pod given it could read or change that", key, g)
			continue
		}
		var u *trustpath.UntrustedError
		switch _, err := trustpath.Resolve(dir); {
		case errors.As(err, &u):
			p.Errorf("%s: %v, so another user could swap what a mount of it binds after signgate judged it; make it and its directories root's and writable by no one else", key, u)
		case err != nil && !errors.Is(err, fs.ErrNotExist): // absent: warned of
			p.Errorf("%s: cannot be checked: %v", key, err)
		}
	}
}

// guardedDirs are the directories no listed source may be, lie above or
// lie in: signgate's config and program, the runtimes' and CDI's config,
// and the directories of the programs hooks may run.
func guardedDirs(cc *config.Config) []string {
	dirs := []string{filepath.Dir(config.DefaultPath), "/etc/containerd", "/etc/crio", "/etc/containers", "/etc/cdi", "/var/run/cdi", "/run/cdi"}
	if abs, err := filepath.Abs(cc.Path); err == nil && cc.Path != "" {
		dirs = append(dirs, filepath.Dir(abs))
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	for _, prog := range cc.Hooks.AllowedPrograms {
		dirs = append(dirs, filepath.Dir(prog))
	}
	return dirs
}

// guardedDir is the first of guarded that dir is, lies above or lies in,
// or "". In / lies everything: a program there guards only itself.
func guardedDir(dir string, guarded []string) string {
	c := filepath.Clean(dir)
	for _, g := range guarded {
		g = filepath.Clean(g)
		if c == g || c == "/" || strings.HasPrefix(g, c+"/") || g != "/" && strings.HasPrefix(c, g+"/") {
			return g
		}
	}
	return ""
}

// addedMountWarnings: a listed directory signgate cannot see binds
// nothing (nri refuses it); the host may change (one config serves nodes
// with and without a GPU), so it is said, not refused.
func (c *Config) addedMountWarnings() []string {
	var out []string
	for _, dir := range c.AddedMounts.AllowedSources {
		if _, err := trustpath.Resolve(dir); errors.Is(err, fs.ErrNotExist) {
			out = append(out, fmt.Sprintf("added_mounts.allowed_sources: signgate cannot see %s (%v): a mount of it is refused, for who may change it cannot be told; in a pod, mount the host's directory at the same path", dir, err))
		}
	}
	return out
}
