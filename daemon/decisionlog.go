package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/signgate/signgate/nri"
)

// DecisionMessageID marks signgate's decision records in the journal:
// journalctl MESSAGE_ID=4e1b6f0a9c2d4e8fb7a35c1d2e6f8a90
const DecisionMessageID = "4e1b6f0a9c2d4e8fb7a35c1d2e6f8a90"

// Decision values in logs: "audit" is an image allowed only because its
// policy audits.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
	DecisionAudit = "audit"
)

func decisionOf(d nri.Decision) string {
	switch {
	case !d.Verdict.Allowed:
		return DecisionDeny
	case d.Verdict.Mode == "audit" && !d.Verdict.Verified:
		return DecisionAudit
	}
	return DecisionAllow
}

func fields(d nri.Decision) map[string]string {
	v := d.Verdict
	f := map[string]string{
		"SIGNGATE_DECISION":      decisionOf(d),
		"SIGNGATE_IMAGE":         d.Ref,
		"SIGNGATE_REPOSITORY":    v.Image,
		"SIGNGATE_DIGEST":        v.Digest,
		"SIGNGATE_POLICY":        v.Policy,
		"SIGNGATE_MODE":          string(v.Mode),
		"SIGNGATE_CAUSE":         string(v.Cause),
		"SIGNGATE_REASON":        v.Reason,
		"SIGNGATE_POD":           d.Pod,
		"SIGNGATE_NAMESPACE":     d.Namespace,
		"SIGNGATE_CONTAINER":     d.Container,
		"SIGNGATE_CONTAINER_ID":  d.ContainerID,
		"SIGNGATE_CACHED":        strconv.FormatBool(v.Cached),
		"SIGNGATE_RUNTIME_IMAGE": strconv.FormatBool(d.RuntimeImage),
		"SIGNGATE_FROM_MEMORY":   strconv.FormatBool(d.FromMemory),
		"SIGNGATE_TOOK_US":       strconv.FormatInt(d.Took.Microseconds(), 10),
	}
	// Which attestation condition failed, on its own field (the reason
	// says it too, among everything else).
	if fc := v.FailedConditions(); len(fc) > 0 {
		f["SIGNGATE_FAILED_CONDITIONS"] = strings.Join(fc, "\n")
	}
	if by := v.VerifiedBy(); len(by) > 0 {
		f["SIGNGATE_VERIFIED_BY"] = strings.Join(by, "; ")
	}
	// The platform manifest that runs, and whose signatures verified.
	if v.Platform != "" {
		f["SIGNGATE_PLATFORM"] = v.Platform
	}
	if v.Manifest != "" {
		f["SIGNGATE_VERIFIED_MANIFEST"] = v.Manifest
	}
	return f
}

// JournalRecorder writes each decision to journald with structured fields,
// so `journalctl SIGNGATE_DECISION=deny` lists denials. Denials and audit
// would-be denials are warnings; allows are informational. A decision
// journald does not take goes to Fallback (the daemon's logger).
type JournalRecorder struct{ Fallback *slog.Logger }

// Record sends d to the journal.
func (r JournalRecorder) Record(d nri.Decision) {
	f := fields(d)
	f["MESSAGE_ID"] = DecisionMessageID
	f["SYSLOG_IDENTIFIER"] = "signgate"
	prio := journal.PriInfo
	if f["SIGNGATE_DECISION"] != DecisionAllow {
		prio = journal.PriWarning
	}
	if err := journal.Send(summary(d), prio, f); err != nil {
		log := r.Fallback
		if log == nil {
			log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		log.Warn("journald write failed; decision follows on stderr", "err", err)
		SlogRecorder{Logger: log}.Record(d)
	}
}

// SlogRecorder writes decisions as structured log lines, where journald is absent.
type SlogRecorder struct{ Logger *slog.Logger }

// Record logs d.
func (r SlogRecorder) Record(d nri.Decision) {
	f := fields(d)
	level := slog.LevelInfo
	if f["SIGNGATE_DECISION"] != DecisionAllow {
		level = slog.LevelWarn
	}
	// The journal's fields, lower case without SIGNGATE_ (operations.md
	// lists them), but took: a duration, not took_us.
	args := []any{"decision", f["SIGNGATE_DECISION"], "image", d.Ref, "repository", d.Verdict.Image, "digest", d.Verdict.Digest,
		"policy", d.Verdict.Policy, "mode", string(d.Verdict.Mode), "cause", d.Verdict.Cause, "reason", d.Verdict.Reason, "pod", d.Pod, "namespace", d.Namespace,
		"container", d.Container, "container_id", d.ContainerID, "cached", d.Verdict.Cached, "runtime_image", d.RuntimeImage, "from_memory", d.FromMemory, "took", d.Took}
	if by, ok := f["SIGNGATE_VERIFIED_BY"]; ok {
		args = append(args, "verified_by", by)
	}
	if fc, ok := f["SIGNGATE_FAILED_CONDITIONS"]; ok {
		args = append(args, "failed_conditions", fc)
	}
	if pm, ok := f["SIGNGATE_PLATFORM"]; ok {
		args = append(args, "platform", pm)
	}
	if m, ok := f["SIGNGATE_VERIFIED_MANIFEST"]; ok {
		args = append(args, "verified_manifest", m)
	}
	r.Logger.Log(context.Background(), level, summary(d), args...)
}

func summary(d nri.Decision) string {
	return fmt.Sprintf("signgate %s %s", decisionOf(d), d.Ref)
}

// multiRecorder fans a decision out.
type multiRecorder []nri.Recorder

func (m multiRecorder) Record(d nri.Decision) {
	for _, r := range m {
		r.Record(d)
	}
}
