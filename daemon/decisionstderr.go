package daemon

// LogDecisionsToStderr makes every decision, and every key change, a
// structured line on stderr too, when journald takes them (run
// --decisions-to-stderr). A DaemonSet
// mounts the node's journal socket, so without this its decisions would
// reach the host's journal only: stderr is what `kubectl logs` and a
// cluster's log pipeline (the container log files the kubelet writes) read.
// Before Run.
func (d *Daemon) LogDecisionsToStderr() {
	d.alsoStderr.Store(true)
	// The decision log's writer reads next only for decisions recorded
	// after Run starts, so setting it here, before Run, is safe.
	if _, journald := d.decisions.next.(JournalRecorder); journald {
		d.decisions.next = multiRecorder{SlogRecorder{Logger: d.log}, d.decisions.next}
	}
	// Without journald, decisions are on stderr already.
}
