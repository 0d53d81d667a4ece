package nri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// containerd's root and state may lie anywhere its config says (root =
// "/data/containerd"), which signgate's config does not know. What marks
// them: entries named io.containerd.* (its plugins' directories).
const ctdPrefix = "io.containerd."

// ctdMarks are entries containerd's root or state always holds.
var ctdMarks = []string{"io.containerd.metadata.v1.bolt", "io.containerd.content.v1.content", "io.containerd.runtime.v2.task", "io.containerd.grpc.v1.cri"}

// containerdStateNear says why r, a listed path where symlinks lead, is,
// holds or lies in a containerd root or state directory no config named,
// or "": a component named io.containerd.*, a directory on the way
// holding one of ctdMarks, or r holding an io.containerd.* entry (or a
// "containerd" directory holding one). Only one level below r is looked
// at: a root deeper under a listed directory is not seen (document it).
// What cannot be read is refused: deny on doubt.
func containerdStateNear(r string) string {
	c := path.Clean(r)
	for _, part := range strings.Split(c, "/") {
		if strings.HasPrefix(part, ctdPrefix) {
			return fmt.Sprintf("lies in containerd's state (%s)", part)
		}
	}
	for d := c; ; d = path.Dir(d) {
		for _, m := range ctdMarks {
			switch _, err := os.Lstat(path.Join(d, m)); {
			case err == nil:
				return fmt.Sprintf("is or lies in %s, containerd's root or state (it holds %s)", d, m)
			case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
				return fmt.Sprintf("cannot be told apart from containerd's state: %v", err)
			}
		}
		if d == "/" {
			break
		}
	}
	for _, dir := range []string{c, path.Join(c, "containerd")} {
		fi, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && !fi.IsDir() {
			continue
		}
		names, err := readNames(dir)
		if err != nil {
			return fmt.Sprintf("cannot be told apart from containerd's state: %v", err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, ctdPrefix) {
				return fmt.Sprintf("holds containerd's root or state (%s)", path.Join(dir, n))
			}
		}
	}
	return ""
}

// readNames are dir's entries' names.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
