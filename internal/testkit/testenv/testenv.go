// Package testenv decides what a test does when something it needs (a
// tool, root, a free journald socket) is missing: plain `go test` skips and
// says how to run everything; `make test` sets SIGNGATE_NO_SKIP=1, and then
// a missing dependency fails the test, so nothing skips silently.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// NoSkipVar is the one switch make sets.
const NoSkipVar = "SIGNGATE_NO_SKIP"

// Strict reports whether skips are failures (under make).
func Strict() bool { return os.Getenv(NoSkipVar) == "1" }

// Skip skips t because of why, or fails it under make.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (%s=1: make test allows no skips)", why, NoSkipVar)
	}
	t.Skipf("%s; `make test` runs everything", why)
}
