package registry_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/signgate/signgate/registry"
)

// Answered is true for what only the registry can say over TLS (an HTTP
// status, however wrapped; a rate limit; a listing too large), false for
// what whoever blocks the path can make (no answer at all).
func TestAnsweredTellsAnAnswerFromSilence(t *testing.T) {
	for _, c := range []struct {
		what string
		err  error
		want bool
	}{
		{"401", fmt.Errorf("listing: %w", &registry.AuthError{Registry: "r", Source: "none", Status: 401, Err: &transport.Error{StatusCode: 401}}), true},
		{"403", &transport.Error{StatusCode: 403}, true},
		{"429", &transport.Error{StatusCode: 429}, true},
		{"429 past the deadline", fmt.Errorf("listing: %w", &registry.RateLimitError{Registry: "r"}), true},
		{"503", fmt.Errorf("listing: %w", &transport.Error{StatusCode: 503}), true},
		{"too large", &registry.ReferrersMemoryError{Cap: "max_manifest_bytes"}, true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), false},
		{"dns", &net.DNSError{Err: "no such host", Name: "r", IsNotFound: true}, false},
		{"tls", &tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false},
		{"deadline", fmt.Errorf("Get: %w", context.DeadlineExceeded), false},
		{"cut short", io.ErrUnexpectedEOF, false},
		{"none", nil, false},
	} {
		if got := registry.Answered(c.err); got != c.want {
			t.Errorf("%s: Answered(%v) = %v, want %v", c.what, c.err, got, c.want)
		}
		if got := registry.AnsweredIn(registry.WithAnswers(context.Background()), c.err); got != c.want {
			t.Errorf("%s: AnsweredIn = %v, want %v (nothing heard)", c.what, got, c.want)
		}
	}
}
