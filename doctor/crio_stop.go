package doctor

import "fmt"

// CRIOStop is what doctor found of stopping a running container on CRI-O,
// which signgate does through CRI-O's CRI ([daemon.runtime] crio_socket):
// NRI gives a plugin no way to stop one there.
type CRIOStop struct {
	Socket   string   // crio_socket; "" when not named
	Policies []string // the policies that say on_untrusted_running = "stop"
	Answered string   // what CRI-O's CRI said it is ("cri-o 1.35.2")
	Err      string   // why it did not answer
}

// crioStopFinding says whether a stop would work. Not naming the socket
// is a choice (untrusted running containers are reported only) unless a
// policy says stop; a named socket that does not answer fails each stop.
func crioStopFinding(s CRIOStop) Finding {
	f := Finding{Guarantee: `a running container its policy no longer trusts can be stopped (on_untrusted_running = "stop")`,
		Optional: len(s.Policies) == 0}
	switch {
	case s.Socket == "":
		f.Detail = `[daemon.runtime] crio_socket names no CRI socket, so an untrusted running container is reported only; name CRI-O's (its listen, e.g. /var/run/crio/crio.sock) to stop it`
		if !f.Optional {
			f.Detail = fmt.Sprintf("policies %q say stop, but %s", s.Policies, f.Detail)
		}
	case s.Err != "":
		f.Detail = fmt.Sprintf("CRI-O's CRI at %s ([daemon.runtime] crio_socket) does not answer: %s; a stop would fail and the container only be reported", s.Socket, s.Err)
	default:
		f.Holds, f.Detail = true, fmt.Sprintf("StopContainer over CRI-O's CRI at %s (%s answered)", s.Socket, s.Answered)
	}
	return f
}
