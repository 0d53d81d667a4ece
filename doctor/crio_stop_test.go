package doctor

import (
	"strings"
	"testing"
)

// doctor says whether a running container can be stopped on CRI-O: only
// through a named CRI socket that answers. No socket is a choice while no
// policy says stop; a socket that does not answer fails when one does.
func TestCRIOStopFinding(t *testing.T) {
	for _, c := range []struct {
		name            string
		s               CRIOStop
		holds, optional bool
		want            string
	}{
		{"answers", CRIOStop{Socket: "/run/crio/crio.sock", Policies: []string{"apps"}, Answered: "cri-o 1.35.2"}, true, false, "StopContainer over CRI-O's CRI at /run/crio/crio.sock (cri-o 1.35.2 answered)"},
		{"not named", CRIOStop{}, false, true, "reported only; name CRI-O's"},
		{"not named, a stop policy", CRIOStop{Policies: []string{"apps"}}, false, false, `policies ["apps"] say stop`},
		{"silent", CRIOStop{Socket: "/run/crio/crio.sock", Policies: []string{"apps"}, Err: "connection refused"}, false, false, "/run/crio/crio.sock ([daemon.runtime] crio_socket) does not answer: connection refused"},
		{"silent, no stop policy", CRIOStop{Socket: "/run/crio/crio.sock", Err: "connection refused"}, false, true, "does not answer"},
	} {
		f := crioStopFinding(c.s)
		if f.Holds != c.holds || f.Optional != c.optional || !strings.Contains(f.Detail, c.want) {
			t.Errorf("%s: %+v; want holds %v, optional %v, %q", c.name, f, c.holds, c.optional, c.want)
		}
	}
	n := Node{Runtime: "crio", CRIOStop: CRIOStop{Socket: "/s", Answered: "cri-o 1.35.2"}}
	found := false
	for _, f := range checkCRIO(n) {
		found = found || strings.HasPrefix(f.Guarantee, "a running container its policy no longer trusts can be stopped") && f.Holds
	}
	if !found {
		t.Errorf("checkCRIO does not say stopping works: %+v", checkCRIO(n))
	}
}
