package daemon

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/verify"
)

// Where journald takes the decisions (a DaemonSet mounting the node's
// journal), run --decisions-to-stderr also writes each one to stderr, for
// kubectl logs; where it does not, they are on stderr once, not twice.
func TestDecisionsToStderrBesideTheJournal(t *testing.T) {
	var log syncBuffer
	deny := nri.Decision{Ref: "registry.example/app:v1", Pod: "app-1", Namespace: "default", Container: "app", Took: time.Millisecond,
		Verdict: &verify.Verdict{Allowed: false, Policy: "prod", Digest: "sha256:" + strings.Repeat("a", 64), Cause: verify.CauseNoSignatures, Reason: "no signature"}}

	d := &Daemon{log: slog.New(slog.NewTextHandler(&log, nil)), plugin: &nri.Plugin{Recorder: multiRecorder{JournalRecorder{}, SlogRecorder{Logger: slog.New(slog.DiscardHandler)}}}}
	d.LogDecisionsToStderr()
	m := d.plugin.Recorder.(multiRecorder)
	if len(m) != 3 {
		t.Fatalf("recorders after LogDecisionsToStderr: %#v", m)
	}
	m[0].Record(deny) // the journal and the metrics are not this test's
	for _, want := range []string{"level=WARN", `msg="signgate deny registry.example/app:v1"`, "decision=deny", "policy=prod", "pod=app-1", "namespace=default", "container=app"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the stderr line lacks %s:\n%s", want, log.String())
		}
	}

	stderr := SlogRecorder{Logger: d.log}
	d.plugin.Recorder = multiRecorder{stderr, SlogRecorder{Logger: slog.New(slog.DiscardHandler)}}
	d.LogDecisionsToStderr()
	if n := len(d.plugin.Recorder.(multiRecorder)); n != 2 {
		t.Fatalf("without journald, LogDecisionsToStderr added a recorder: %d", n)
	}
}
