package daemon

import (
	"testing"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/crio"
)

// On CRI-O, the running containers are listed and stopped through CRI-O's
// CRI at the socket crio_socket names, and through nothing when it names
// none (the stop then fails, saying what to set).
func TestCRIOStopsThroughTheNamedSocket(t *testing.T) {
	d := config.Daemon{Runtime: config.Runtime{Name: config.RuntimeCRIO, CRIOSocket: "/run/crio/crio.sock"}}
	s, err := dialRuntime(d)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.(*crio.Store).CRI; c == nil || c.Socket != "/run/crio/crio.sock" {
		t.Fatalf("crio_socket named: the store stops through %+v", c)
	}
	d.Runtime.CRIOSocket = ""
	if s, _ = dialRuntime(d); s.(*crio.Store).CRI != nil {
		t.Fatal("no crio_socket: the store has a CRI all the same")
	}
}
