package doctor

import (
	"fmt"
	"strings"
)

// Running is what signgate's daemon answered when doctor asked it for
// /readyz (ready: connected to NRI and deciding).
type Running struct {
	Where    string // what was asked: "api socket /run/signgate/signgate.sock"
	Answered bool   // signgate answered there
	Ready    bool   // and said it is ready
	Detail   string // its answer, or why nothing (or something else) answered
}

// runningFinding: every other finding says what would hold with signgate
// running; this one says whether it is, so doctor does not print all OK
// beside a gate that is not there. It is never optional.
func runningFinding(r Running) Finding {
	f := Finding{Guarantee: "signgate is running and connected to NRI"}
	switch {
	case r.Ready:
		f.Holds, f.Detail = true, fmt.Sprintf("signgate answered /readyz on its %s: %s", r.Where, r.Detail)
	case r.Answered:
		f.Detail = fmt.Sprintf("signgate answers on its %s but is not ready (not connected to NRI, or its decision path fails): %s", r.Where, r.Detail)
	default:
		f.Detail = fmt.Sprintf("signgate does not answer: %s. Start it (systemctl start signgate, or its DaemonSet), and see its log", r.Detail)
	}
	return f
}

// runtimeNote starts the part of /readyz's answer that names the runtime
// NRI connected signgate to: "runtime cri-o 1.35.2".
const runtimeNote = "runtime "

// RuntimeNote is that part, for the daemon.
func RuntimeNote(name, version string) string { return runtimeNote + name + " " + version }

// RuntimeSeen is the runtime, and its version, that signgate's /readyz
// named: the one NRI's Configure call told it of.
func (r Running) RuntimeSeen() (name, version string, ok bool) {
	for _, part := range strings.Split(r.Detail, "; ") {
		if rest, found := strings.CutPrefix(strings.TrimSpace(part), runtimeNote); found {
			if f := strings.Fields(rest); len(f) == 2 {
				return f[0], f[1], true
			}
		}
	}
	return "", "", false
}

// connectedFinding: signgate reads the records of the runtime NRI connected
// it to (under "auto", the one detected). A mismatch is refused at
// registration, so a ready signgate shows it only across a restart of the
// runtime; not knowing (an older signgate, or none answering) is optional,
// as runningFinding already says whether signgate runs.
func connectedFinding(n Node) Finding {
	want := "containerd"
	if n.Runtime == "crio" {
		want = criOName
	}
	f := Finding{Guarantee: "signgate reads the records of the runtime NRI connected it to"}
	name, version, ok := "", "", false
	if n.Running != nil {
		name, version, ok = n.Running.RuntimeSeen()
	}
	switch {
	case !ok:
		f.Optional, f.Detail = true, "signgate's /readyz names no runtime (not connected, or older than this doctor)"
	case name != want:
		f.Detail = fmt.Sprintf("NRI connected signgate to %s %s, but it reads %s's records: set [daemon.runtime] name to match, or \"auto\", and restart signgate", name, version, want)
	default:
		f.Holds, f.Detail = true, fmt.Sprintf("%s %s, as NRI's Configure named it", name, version)
	}
	return f
}
