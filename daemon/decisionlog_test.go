package daemon

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/testenv"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/verify"
)

const journalSocket = "/run/systemd/journal/socket"

// parseJournal decodes journald's native protocol: KEY=value lines, or KEY,
// a little-endian length and the raw value for values with newlines.
func parseJournal(b []byte) map[string]string {
	f := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			break
		}
		line := b[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			f[string(k)] = string(v)
			b = b[nl+1:]
			continue
		}
		n := binary.LittleEndian.Uint64(b[nl+1 : nl+9])
		f[string(line)] = string(b[nl+9 : nl+9+int(n)])
		b = b[nl+9+int(n)+1:]
	}
	return f
}

func TestJournalRecordsDenialsWithStructuredFields(t *testing.T) {
	if _, err := os.Stat(journalSocket); err == nil {
		// A real journald owns the socket: as root, run this test again in a
		// private mount namespace with a socket directory of its own.
		if os.Getenv("SIGNGATE_PRIVATE_JOURNAL") == "" && os.Geteuid() == 0 {
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
				`mount -t tmpfs tmpfs /run/systemd/journal && exec "$0" -test.run '^TestJournalRecordsDenialsWithStructuredFields$' -test.v`, os.Args[0])
			cmd.Env = append(os.Environ(), "SIGNGATE_PRIVATE_JOURNAL=1")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS") {
				t.Fatalf("in a private mount namespace: %v\n%s", err, out)
			}
			return
		}
		testenv.Skip(t, "a real journald owns %s", journalSocket)
	}
	if err := os.MkdirAll("/run/systemd/journal", 0o755); err != nil {
		testenv.Skip(t, "cannot stand in for journald: %v", err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: journalSocket, Net: "unixgram"})
	if err != nil {
		testenv.Skip(t, "cannot stand in for journald: %v", err)
	}
	defer os.Remove(journalSocket)
	defer conn.Close()

	d := nri.Decision{
		Ref: "reg.io/team/app:v1", Pod: "web-1", Namespace: "prod", Container: "app", ContainerID: "c0ffee", Took: 1500 * time.Microsecond,
		Verdict: &verify.Verdict{Image: "reg.io/team/app", Digest: "sha256:abc", Policy: "prod", Mode: verify.Enforce,
			Reason: "policy \"prod\": cosign: no cosign signatures found\nsecond line",
			Attestations: []*verify.AttestationResult{{Name: "provenance", Attestations: []verify.CosignSignature{
				{Failed: []string{`builders = ["b"]: built by "x"`, "max_age = 1h0m0s: made 2h0m0s ago"}}}}}},
	}
	JournalRecorder{}.Record(d)

	buf := make([]byte, 64<<10)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	f := parseJournal(buf[:n])
	want := map[string]string{
		"MESSAGE_ID":         DecisionMessageID,
		"PRIORITY":           "4",
		"SYSLOG_IDENTIFIER":  "signgate",
		"SIGNGATE_DECISION":  "deny",
		"SIGNGATE_IMAGE":     "reg.io/team/app:v1",
		"SIGNGATE_DIGEST":    "sha256:abc",
		"SIGNGATE_POLICY":    "prod",
		"SIGNGATE_POD":       "web-1",
		"SIGNGATE_NAMESPACE": "prod",
		"SIGNGATE_CONTAINER": "app",
		// The record of what verified each container, by its ID.
		"SIGNGATE_CONTAINER_ID": "c0ffee",
		"SIGNGATE_TOOK_US":      "1500",
		"SIGNGATE_REASON":       d.Verdict.Reason,
		// Which attestation condition failed, one per line.
		"SIGNGATE_FAILED_CONDITIONS": "provenance: builders = [\"b\"]: built by \"x\"\nprovenance: max_age = 1h0m0s: made 2h0m0s ago",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if !strings.Contains(f["MESSAGE"], "deny reg.io/team/app:v1") {
		t.Errorf("MESSAGE = %q", f["MESSAGE"])
	}
}

func TestDecisionKinds(t *testing.T) {
	var buf bytes.Buffer
	r := SlogRecorder{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	for _, c := range []struct {
		v    verify.Verdict
		want string
	}{
		{verify.Verdict{Allowed: true, Verified: true, Mode: verify.Enforce}, "level=INFO msg=\"signgate allow img\" decision=allow"},
		{verify.Verdict{Allowed: true, Verified: false, Mode: verify.Audit}, "level=WARN msg=\"signgate audit img\" decision=audit"},
		{verify.Verdict{Allowed: false, Mode: verify.Enforce}, "level=WARN msg=\"signgate deny img\" decision=deny"},
	} {
		buf.Reset()
		v := c.v
		r.Record(nri.Decision{Ref: "img", Verdict: &v})
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("got %q, want %q", buf.String(), c.want)
		}
	}
}

// The stderr record (kubectl logs) carries every journal field, under its
// name in lower case without SIGNGATE_ (took for SIGNGATE_TOOK_US), and
// nothing else: docs/operations.md lists the keys, and log pipelines
// index them.
func TestStderrRecordHasTheJournalFields(t *testing.T) {
	var buf bytes.Buffer
	r := SlogRecorder{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	v := verify.Verdict{
		Allowed: true, Verified: true, Mode: verify.Enforce,
		Image: "reg.io/team/app", Digest: "sha256:aa", Policy: "apps", Reason: "ok",
		Platform: "sha256:bb", Manifest: "sha256:bb",
		Cosign: &verify.CosignResult{Satisfied: true, KeysVerified: []string{"k1"}},
	}
	d := nri.Decision{Ref: "reg.io/team/app:v1", Verdict: &v, Pod: "p", Namespace: "ns", Container: "c", ContainerID: "id", Took: time.Millisecond}
	r.Record(d)
	got := map[string]bool{}
	for _, w := range strings.Fields(buf.String()) {
		if k, _, ok := strings.Cut(w, "="); ok && k == strings.ToLower(k) && !strings.ContainsAny(k, `"`) {
			got[k] = true
		}
	}
	for _, k := range []string{"level", "msg"} {
		delete(got, k)
	}
	want := map[string]bool{}
	for k := range fields(d) {
		k = strings.ToLower(strings.TrimPrefix(k, "SIGNGATE_"))
		if k == "took_us" {
			k = "took"
		}
		want[k] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("the stderr record lacks %s: %s", k, buf.String())
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("the stderr record has %s, which the journal lacks: %s", k, buf.String())
		}
	}
}
