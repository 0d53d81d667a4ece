package doctor

import (
	"strings"
	"testing"
)

// A metrics port held by another process is said, optional: the gate
// itself does not depend on it.
func TestListenerFindings(t *testing.T) {
	n := Node{Version: "2.2.0", Listeners: []Listener{
		{Name: "metrics", Key: "daemon.metrics_address", Address: "127.0.0.1:9464", State: ListenerOther},
		{Name: "api", Key: "daemon.api_socket", Address: "/run/signgate/signgate.sock", State: ListenerSigngate},
		{Name: "metrics", Key: "daemon.metrics_address", Address: "127.0.0.1:9465", Err: "connection refused"},
	}}
	var got []Finding
	for _, f := range Check(n) {
		if strings.Contains(f.Guarantee, "listener") {
			got = append(got, f)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d listener findings, want 3: %+v", len(got), got)
	}
	for i, want := range []struct {
		holds  bool
		detail string
	}{
		{false, `another process answers on daemon.metrics_address = "127.0.0.1:9464": signgate keeps gating`},
		{true, "signgate answered"},
		{false, `nothing answers on daemon.metrics_address = "127.0.0.1:9465" (connection refused)`},
	} {
		if got[i].Holds != want.holds || !got[i].Optional || !strings.Contains(got[i].Detail, want.detail) {
			t.Errorf("finding %d: %+v; want holds=%v, optional, detail with %q", i, got[i], want.holds, want.detail)
		}
	}
}
