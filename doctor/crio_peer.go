package doctor

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// rootOrSelf is whom doctor believes about CRI-O's running config: root
// (CRI-O runs as root) or doctor's own user (who could write the answer
// anyway). Another user's process on crio_socket (a socket in a
// directory others can write) could say the gate is on when it is not.
func rootOrSelf(uid uint32) bool { return uid == 0 || uid == uint32(os.Getuid()) }

// checkPeer refuses c unless the kernel says (SO_PEERCRED) its other end
// is a process of a uid trusted takes: the socket file's owner and mode
// say nothing of who listens on it.
func checkPeer(c net.Conn, sock string, trusted func(uint32) bool) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("CRI-O's socket %s: not a unix socket", sock)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("CRI-O's socket %s: %w", sock, err)
	}
	var (
		cred *syscall.Ucred
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, gerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("CRI-O's socket %s: %w", sock, err)
	}
	if gerr != nil {
		return fmt.Errorf("CRI-O's socket %s: who listens cannot be told: %w", sock, gerr)
	}
	if !trusted(cred.Uid) {
		return fmt.Errorf("CRI-O's socket %s is served by pid %d of uid %d, not root's: not CRI-O, not believed", sock, cred.Pid, cred.Uid)
	}
	return nil
}
