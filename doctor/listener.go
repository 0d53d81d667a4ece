package doctor

import "fmt"

// ListenerState is what answered on one of the daemon's listeners.
type ListenerState int

const (
	ListenerNone     ListenerState = iota // nothing answered
	ListenerSigngate                      // signgate's health handler answered
	ListenerOther                         // something else answered: another process holds it
)

// Listener is one of the running daemon's listeners, as probed.
type Listener struct {
	Name    string // "metrics" or "api"
	Key     string // its config key, daemon.metrics_address or daemon.api_socket
	Address string
	State   ListenerState
	Err     string // why nothing answered
}

// listenerFinding: the listeners are not the gate (signgate keeps gating
// while one cannot bind and retries), so each is optional; but a metrics
// port held by another process blinds monitoring, and says so here.
func listenerFinding(l Listener) Finding {
	f := Finding{Guarantee: fmt.Sprintf("signgate serves its %s listener on %s", l.Name, l.Address), Optional: true}
	switch l.State {
	case ListenerSigngate:
		f.Holds, f.Detail = true, "signgate answered /healthz there"
	case ListenerOther:
		f.Detail = fmt.Sprintf("another process answers on %s = %q: signgate keeps gating and retries the bind (signgate_listener_bind_failures_total counts the attempts), but serves nothing there until the address is freed or %s is changed", l.Key, l.Address, l.Key)
	default:
		f.Detail = fmt.Sprintf("nothing answers on %s = %q (%s): signgate is not running, or cannot bind it and is retrying; its log says \"%s listener cannot bind\" with the reason", l.Key, l.Address, l.Err, l.Name)
	}
	return f
}
