package verify

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/signgate/signgate/registry"
)

// isFetchError tells the registry's failures by their values, as the HTTP
// client wraps them, not by their text.
func TestIsFetchError(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tooLarge := fmt.Errorf("reading manifest: %w", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: &registry.ErrTooLarge{URL: "https://r.example/v2/", Limit: 1024}})
	for _, err := range []error{refused, tooLarge} {
		if !isFetchError(err) {
			t.Errorf("%v: not a fetch error", err)
		}
	}
	// Content that was read and is bad is judged, even if its text
	// happens to say so.
	for _, err := range []error{errors.New("malformed bundle: connection refused"), errors.New("payload exceeds the schema")} {
		if isFetchError(err) {
			t.Errorf("%v: a fetch error", err)
		}
	}
}

// A reason that quotes an excerpt of a library's error still wraps it.
func TestExcerptfWraps(t *testing.T) {
	cause := fmt.Errorf("x509: %w", os.ErrDeadlineExceeded)
	err := excerptf(cause, "does not verify under trust root %q", "local")
	if err.Error() != `does not verify under trust root "local": x509: i/o timeout` || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%q does not read as before or does not wrap its cause", err)
	}
}

// An excerpt quotes URLs without their query or userinfo: a registry's
// redirect can carry a presigned S3/CDN signature, and the excerpt reaches
// the CRI denial message tenants read.
func TestExcerptRedactsURLQueries(t *testing.T) {
	err := fmt.Errorf("reading signature: %w", errors.New(`Get "https://u:pw@bucket.s3.example/blob?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA": EOF`))
	got := Excerpt(err)
	if got != `reading signature: Get "https://bucket.s3.example/blob": EOF` {
		t.Errorf("excerpt %q", got)
	}
}
