package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// Whatever answers on crio_socket is believed about the gate: a socket
// in a directory others can write (a crioSocket.path the chart mounts
// from the node's /tmp, say) could be a stand-in saying NRI and its
// validator are on. doctor believes only a peer that is root (CRI-O) or
// doctor's own user, by the kernel's word (SO_PEERCRED), not the file's.
func TestCRIORunningConfigOnlyFromATrustedPeer(t *testing.T) {
	sock := serveCRIOConfig(t, "[crio.nri]\nenable_nri = true\n")
	self := uint32(os.Getuid())
	_, err := readCRIORunning(context.Background(), sock, func(uid uint32) bool { return uid != self })
	if err == nil || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "uid") {
		t.Errorf("a peer of an untrusted uid was believed: %v", err)
	}
	if _, err := readCRIORunning(context.Background(), sock, func(uid uint32) bool { return uid == self }); err != nil {
		t.Errorf("a trusted peer: %v", err)
	}
	if !rootOrSelf(0) || !rootOrSelf(self) || (self != 65534 && rootOrSelf(65534)) {
		t.Errorf("rootOrSelf: root %v, self %v, nobody %v", rootOrSelf(0), rootOrSelf(self), rootOrSelf(65534))
	}
}

// serveAsVar names the socket the test binary, started again as another
// user, serves CRI-O's /config on (TestServeCRIOConfigAsAnotherUser).
const serveAsVar = "SIGNGATE_TEST_SERVE_CRIO_CONFIG"

// A stand-in for CRI-O run by another (non-root) user on the socket
// crio_socket names is not believed: doctor says it could not read
// CRI-O's running config, so fails-closed stays unknown.
func TestCRIORunningConfigNotFromAnotherUser(t *testing.T) {
	if os.Getenv(serveAsVar) != "" {
		return // the server's process: TestServeCRIOConfigAsAnotherUser
	}
	sock := testenv.ServeAsNobody(t, "TestServeCRIOConfigAsAnotherUser", serveAsVar)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := ReadCRIORunning(ctx, sock)
	if err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("a stand-in of uid 65534 was believed: %+v %v", cfg, err)
	}
}

// TestServeCRIOConfigAsAnotherUser is the stand-in's process: it serves
// a config saying the gate is on, and says "ready" once it listens.
func TestServeCRIOConfigAsAnotherUser(t *testing.T) {
	sock := os.Getenv(serveAsVar)
	if sock == "" {
		return // run only as TestCRIORunningConfigNotFromAnotherUser's server
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("[crio.nri]\nenable_nri = true\n"))
	}))
}
