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

	d := &Daemon{log: slog.New(slog.NewTextHandler(&log, nil)), decisions: &laterRecorder{next: JournalRecorder{}}}
	d.LogDecisionsToStderr()
	m, ok := d.decisions.next.(multiRecorder)
	if !ok || len(m) != 2 {
		t.Fatalf("the decision log after LogDecisionsToStderr: %#v", d.decisions.next)
	}
	m[0].Record(deny) // the journal is not this test's
	for _, want := range []string{"level=WARN", `msg="signgate deny registry.example/app:v1"`, "decision=deny", "policy=prod", "pod=app-1", "namespace=default", "container=app"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the stderr line lacks %s:\n%s", want, log.String())
		}
	}

	d.decisions = &laterRecorder{next: SlogRecorder{Logger: d.log}}
	d.LogDecisionsToStderr()
	if _, added := d.decisions.next.(multiRecorder); added {
		t.Fatalf("without journald, LogDecisionsToStderr added a recorder: %#v", d.decisions.next)
	}
}
