package integration

import (
	"errors"
	"strings"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// logMark is where signgate's log ends now. The log is the whole suite's:
// a test that looks for a line must look only at what was written after
// its mark, or a line an earlier test wrote would satisfy it.
func (e *env) logMark() int { return len(e.SigngateLog.String()) }

// logSince is what signgate logged after mark.
func (e *env) logSince(mark int) string { return e.SigngateLog.String()[mark:] }

// logLines are the lines logged after mark that contain every one of parts.
func (e *env) logLines(mark int, parts ...string) []string {
	var out []string
	for _, l := range strings.Split(e.logSince(mark), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// waitLogLines is logLines once there is at least one such line, or none
// after 5s. signgate's log reaches the buffer through a pipe, so a line
// written before containerd answered may arrive after the answer.
func (e *env) waitLogLines(mark int, parts ...string) []string {
	var lines []string
	_ = harness.WaitFor(5*time.Second, func() error {
		if lines = e.logLines(mark, parts...); len(lines) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	return lines
}
