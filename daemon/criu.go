package daemon

import (
	"log/slog"

	"github.com/signgate/signgate/config"
)

// warnRestores says, at start, that on CRI-O signgate cannot tell whether
// CRI-O restores checkpoints without crio_socket: it asks CRI-O's running
// config there (crio.RestoreGate), and refuses every creation while
// enable_criu_support is on. Without the socket it admits them; doctor
// reads CRI-O's files and says whether restores are off.
func warnRestores(log *slog.Logger, r config.Runtime) {
	if log == nil || r.Name == config.RuntimeContainerd || r.CRIOSocket != "" || r.CRIOCheckpointRestoreUnsafe {
		return
	}
	log.Warn("on CRI-O, [daemon.runtime] crio_socket names no socket, so signgate cannot ask CRI-O whether it restores checkpoints ([crio.runtime] enable_criu_support, on by default with criu in its PATH): a restore runs a checkpoint's files and process memory nobody verified, on a signed base image signgate admits; name crio_socket, or make sure enable_criu_support = false (signgate doctor checks CRI-O's files)",
		"runtime", r.Name)
}
