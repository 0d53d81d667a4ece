// Package peercred says who listens on a unix socket, by the kernel's
// word (SO_PEERCRED): a socket file's owner and mode say nothing of it,
// and a socket in a directory others can write may be anyone's.
package peercred

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// RootOrSelf trusts root (the runtimes run as root) and the caller's own
// user (who could answer for itself anyway).
func RootOrSelf(uid uint32) bool { return uid == 0 || uid == uint32(os.Getuid()) }

// Check refuses c unless the process at its other end is of a uid
// trusted takes; what names the socket for errors.
func Check(c net.Conn, what string, trusted func(uint32) bool) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("%s: not a unix socket", what)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var (
		cred *syscall.Ucred
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, gerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if gerr != nil {
		return fmt.Errorf("%s: who listens cannot be told: %w", what, gerr)
	}
	if !trusted(cred.Uid) {
		return fmt.Errorf("%s is served by pid %d of uid %d, not root's: not believed", what, cred.Pid, cred.Uid)
	}
	return nil
}
