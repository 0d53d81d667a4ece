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
// follows in it is trusted: only its owner may replace that. A component
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
