package nri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/signgate/signgate/internal/trustpath"
)

// sourceUntrusted says why the listed host path s may be swapped before
// the runtime mounts it, or "": the links in it were judged a moment ago
// and the runtime follows them later, so every directory and link on the
// way (and s) must be root's or signgate's and writable by no one else.
// A character device (a GPU's node) is writable by its nature, not
// swappable: its own mode is not judged, only its directories'. A path
// signgate cannot see is refused: who may change it cannot be told.
func sourceUntrusted(s string) string {
	_, err := trustpath.Resolve(s)
	var u *trustpath.UntrustedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &u):
		if isCharDeviceAt(s, u.Path) {
			return ""
		}
		return fmt.Sprintf("names %s, which another user could swap: %v; a listed directory and the directories above it must be root's and writable by no one else", s, u)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("names %s, which signgate cannot see (%v), so it cannot tell who may change it: run signgate on the host, or mount the host's directory at the same path (read-only)", s, err)
	}
	return fmt.Sprintf("names %s, which signgate cannot check: %v", s, err)
}

// isCharDeviceAt: untrusted, the component trustpath refused, is where s
// leads and a character device.
func isCharDeviceAt(s, untrusted string) bool {
	r, err := filepath.EvalSymlinks(s)
	if err != nil || r != untrusted {
		return false
	}
	fi, err := os.Stat(r)
	return err == nil && fi.Mode()&fs.ModeCharDevice != 0
}
