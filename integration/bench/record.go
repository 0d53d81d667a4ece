package main

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/signgate/signgate/daemon"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/verify"
)

// recordRow times writing one decision to the log as the daemon does
// without journald (slog, to /dev/null here): work signgate does for
// every creation, since issue 29 after it has answered.
func recordRow() row {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	defer null.Close()
	r := daemon.SlogRecorder{Logger: slog.New(slog.NewTextHandler(null, nil))}
	d := nri.Decision{Ref: "registry.example.com/bench/create:v1", Pod: "pod1", Namespace: "default", Container: "c", ContainerID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Took: 30 * time.Microsecond, Verdict: allowed()}
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			r.Record(d)
		}
	})
	per := time.Duration(res.NsPerOp())
	return row{what: "  writing the decision to the log (slog)", median: per, n: res.N, note: "after the answer, off the creation's path"}
}

// allowed is a cached allow as the engine makes it, for the record's cost:
// built from verify's one constructor, then marked allowed.
func allowed() *verify.Verdict {
	v := verify.Deny("registry.example.com/bench/create", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", verify.CauseVerified, "verified by apps")
	v.Allowed, v.Verified, v.Cached, v.Policy, v.Mode = true, true, true, "apps", verify.Enforce
	return v
}
