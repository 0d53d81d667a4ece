package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/signgate/signgate/internal/statefile"
)

// trustedPath resolves path as the kernel will when signgate runs it,
// checking every directory the lookup passes through (symbolic links'
// included) and the file it ends at: each is owned by root or signgate's
// user and writable by no one else, so no one else can swap in another
// program. A world-writable directory with the sticky bit (/tmp) passes
// when what follows in it is trusted: only its owner may replace that.
func trustedPath(path string) (string, error) {
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
		return fmt.Errorf("%s is %s, so another user could replace the plugin", path, why)
	}
	return nil
}

// stickyDir is a sticky directory as untrusted judges it: others may add
// entries, not replace those of its owner's or root's.
type stickyDir struct{ os.FileInfo }

func (s stickyDir) Mode() os.FileMode { return s.FileInfo.Mode() &^ 0o022 }

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
