package kubecheck

import (
	"fmt"
	"os"
	"testing"
)

// skip is the main module's internal/testkit/testenv.Skip, which this module
// cannot import (it would take in all of signgate's dependencies): plain
// `go test` skips and says how to run everything; under make
// (SIGNGATE_NO_SKIP=1) a missing dependency fails the test. The docs test
// TestNoRawSkips keeps every other skip going through testenv.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if os.Getenv("SIGNGATE_NO_SKIP") == "1" {
		t.Fatalf("%s (SIGNGATE_NO_SKIP=1: make test allows no skips)", why)
	}
	t.Skipf("%s; `make test` runs everything", why)
}

// The one switch works here as in internal/testkit/testenv.
func TestSkipFailsUnderNoSkip(t *testing.T) {
	if os.Getenv("SIGNGATE_NO_SKIP") != "1" {
		t.Setenv("SIGNGATE_NO_SKIP", "1")
	}
	ft := &fakeTB{}
	func() {
		defer func() { _ = recover() }()
		skip(ft, "nothing")
	}()
	if !ft.failed || ft.skipped {
		t.Fatalf("under SIGNGATE_NO_SKIP=1 skip did not fail the test (failed=%v skipped=%v)", ft.failed, ft.skipped)
	}
}

// fakeTB records what skip does; Fatalf and Skipf stop it as the real ones
// would (by a panic the test recovers).
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true; panic("skip") }
