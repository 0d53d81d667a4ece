// Package trustpath resolves a program's path as the kernel will when it
// is run, checking that no one but root or signgate's user can change
// what runs: a verification plugin signgate runs, a hook program the
// runtime runs as root.
package trustpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/signgate/signgate/internal/statefile"
)

// UntrustedError names the path component (a directory, a link, the file)
// someone else could change, and why.
type UntrustedError struct {
	Path, Why string
}

func (e *UntrustedError) Error() string { return fmt.Sprintf("%s is %s", e.Path, e.Why) }

// Resolve resolves path as the kernel will when it runs it, checking
// every directory the lookup passes through (symbolic links' included)
// and the file it ends at: each is owned by root or signgate's user and
// writable by no one else, so no one else can swap in another program.
// A world-writable directory with the sticky bit (/tmp) passes when what
// follows in it is trusted: only its owner may replace that, so a
// symbolic link there must be root's or signgate's user's too. A component
// someone else may change is an *UntrustedError; one that cannot be read
// is os.Lstat's error (os.ErrNotExist when it is not there).
func Resolve(path string) (string, error) {
	links := 0
	var walk func(dir, rest string) (string, error)
	walk = func(dir, rest string) (string, error) {
		for _, c := range strings.Split(rest, "/") {
			switch c {
			case "", ".":
				continue
			case "..":
				dir = filepath.Dir(dir) // dir is resolved: its parent is physical
				continue
			}
			next := filepath.Join(dir, c)
			fi, err := os.Lstat(next)
			if err != nil {
				return "", err
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				if links++; links > 40 {
					return "", errors.New("too many symbolic links")
				}
				if err := linkInSticky(dir, next, fi); err != nil {
					return "", err
				}
				target, err := os.Readlink(next)
				if err != nil {
					return "", err
				}
				from := dir
				if filepath.IsAbs(target) {
					from = "/"
				}
				if next, err = walk(from, target); err != nil {
					return "", err
				}
				if fi, err = os.Stat(next); err != nil {
					return "", err
				}
			}
			if err := trusted(next, fi); err != nil {
				return "", err
			}
			dir = next
		}
		return dir, nil
	}
	root, err := os.Stat("/")
	if err != nil {
		return "", err
	}
	if err := trusted("/", root); err != nil {
		return "", err
	}
	return walk("/", path)
}

// linkInSticky: a symbolic link in a sticky directory (/tmp) is owned by
// root or signgate's user, as the directory's other entries must be: its
// owner may replace it with one that leads elsewhere. The kernel's
// protected_symlinks would stop root following such a link, but it may
// be off.
func linkInSticky(dir, link string, fi os.FileInfo) error {
	d, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if d.Mode()&os.ModeSticky == 0 {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &UntrustedError{Path: link, Why: "a symbolic link in a sticky directory whose owner this system does not report"}
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		return &UntrustedError{Path: link, Why: fmt.Sprintf("a symbolic link in the sticky directory %s owned by uid %d, not signgate's (uid %d) or root: its owner may replace it", dir, st.Uid, uid)}
	}
	return nil
}

func trusted(path string, fi os.FileInfo) error {
	if fi.IsDir() && fi.Mode()&os.ModeSticky != 0 {
		fi = stickyDir{fi}
	}
	if why := statefile.Untrusted(fi); why != "" {
		return &UntrustedError{Path: path, Why: why}
	}
	return nil
}

// stickyDir is a sticky directory as untrusted judges it: others may add
// entries, not replace those of its owner's or root's.
type stickyDir struct{ os.FileInfo }

func (s stickyDir) Mode() os.FileMode { return s.FileInfo.Mode() &^ 0o022 }
