package gcpkms

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Only an answer about the version is the version's problem; no answer, an
// overload or a server fault fails the sync, and the key keeps its versions
// until the next one.
func TestUnreachableTellsNoAnswerFromARefusal(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.PermissionDenied, "denied"), false},
		{status.Error(codes.FailedPrecondition, "not enabled"), false},
		{status.Error(codes.Unavailable, "down"), true},
		{status.Error(codes.ResourceExhausted, "quota"), true},
		{context.DeadlineExceeded, true},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
