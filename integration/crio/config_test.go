package crio

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// keepConfig returns signgate's config as the test found it, and restarts
// signgate with it when the test ends.
func keepConfig(t *testing.T, e *harness.Env) string {
	t.Helper()
	good := e.SigngateConfig()
	t.Cleanup(func() {
		if err := e.RestartSigngate(good); err != nil {
			t.Errorf("restoring the config: %v", err)
		}
	})
	return good
}

// withCRIOSocket is cfg with [daemon.runtime] name rt and crio_socket
// naming CRI-O's CRI; cfg unchanged if it names no CRI-O runtime.
func withCRIOSocket(e *harness.Env, cfg, rt string) string {
	return strings.Replace(cfg, "[daemon.runtime]\nname = \"crio\"\n", fmt.Sprintf("[daemon.runtime]\nname = %q\ncrio_socket = %q\n", rt, e.ContainerdSock), 1)
}
