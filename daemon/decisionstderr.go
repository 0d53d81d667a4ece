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
	m, ok := d.plugin.Recorder.(multiRecorder)
	if !ok {
		return
	}
	for _, r := range m {
		if _, journald := r.(JournalRecorder); journald {
			d.plugin.Recorder = append(multiRecorder{SlogRecorder{Logger: d.log}}, m...)
			return
		}
	}
	// Without journald, decisions are on stderr already.
}
