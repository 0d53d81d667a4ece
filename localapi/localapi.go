// Package localapi is the daemon's local API as its clients see it: the
// request and response types, the routes, and a client for the unix
// socket. The commands that talk to a running daemon (image-verifier,
// keys) use it without depending on the daemon itself.
package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/signgate/signgate/config"
)

// DefaultSocket is where the daemon answers, unless configured otherwise.
const DefaultSocket = config.DefaultAPISocket

// The routes.
const (
	PathVerify   = "/v1/verify"    // POST VerifyRequest -> VerifyResponse
	PathKeys     = "/v1/keys"      // GET -> KeysResponse
	PathKeysSync = "/v1/keys/sync" // POST -> KeysResponse
	// Health, also served on metrics_address: "ok", or 503 and why.
	PathHealthz = "/healthz" // the process and its decision path answer
	PathReadyz  = "/readyz"  // and signgate is connected to NRI
)

// HeaderSigngate is set on signgate's health answers: a probe that gets one
// without it reached another process holding the address.
const HeaderSigngate = "Signgate-Health"

// VerifyRequest asks the daemon about an image being pulled.
type VerifyRequest struct {
	Image  string `json:"image"`  // the reference being pulled
	Digest string `json:"digest"` // the manifest or index digest it resolved to
}

// VerifyResponse is the daemon's answer.
type VerifyResponse struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	Policy  string `json:"policy,omitempty"`
}

// KeyInfo describes one trusted key version, or a KMS key with none, for
// `signgate keys list`.
type KeyInfo struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`
	Version     string    `json:"version,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Algorithm   string    `json:"algorithm,omitempty"`
	LastSync    time.Time `json:"last_sync,omitzero"`
	// State: "static", "current", "grace until <time>", "stale", or
	// "untrusted: <why>".
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
}

// KeysResponse answers GET /v1/keys and POST /v1/keys/sync.
type KeysResponse struct {
	Keys    []KeyInfo   `json:"keys"`
	Changes []KeyChange `json:"changes,omitempty"` // sync only
	Error   string      `json:"error,omitempty"`   // sync only: keys that could not be synced
}

// KeyChange is one change a sync made to a key's trusted versions (as
// keysync.Change has it; this package stays free of the daemon's
// dependencies, so the pull-time verifier that links it starts fast).
type KeyChange struct {
	Key         string `json:"key"`
	Kind        string `json:"change"`
	Version     string `json:"version,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Detail      string `json:"detail"`
}

// Call sends body (if any) to the daemon at socket and decodes its answer
// into out.
//
// It speaks HTTP/1.0 by hand, one request per connection, rather than
// through net/http: the pull-time verifier links this package and runs once
// per pull, and net/http (with TLS and its certificate machinery) would
// more than double its size and start-up time. The server is the daemon's
// own net/http server, which answers a 1.0 request with a plain body and
// closes the connection.
func Call(ctx context.Context, socket, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.0\r\nHost: signgate\r\n", method, path)
	if body != nil {
		fmt.Fprintf(&req, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(payload))
	}
	req.WriteString("\r\n")
	req.Write(payload)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return callErr(ctx, err)
	}
	resp, err := io.ReadAll(io.LimitReader(conn, maxResponse+1))
	if err != nil {
		return callErr(ctx, err)
	}
	if len(resp) > maxResponse {
		return fmt.Errorf("the daemon's answer is larger than %d bytes", maxResponse)
	}
	head, content, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok {
		return fmt.Errorf("the daemon's answer has no end of headers: %q", excerpt(resp))
	}
	status, _, _ := bytes.Cut(head, []byte("\r\n"))
	// "HTTP/1.0 200 OK"
	if f := bytes.Fields(status); len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return fmt.Errorf("the daemon's answer is not HTTP: %q", excerpt(status))
	} else if string(f[1]) != "200" {
		return fmt.Errorf("%s: %s", bytes.TrimPrefix(status, f[0]), bytes.TrimSpace([]byte(excerpt(content))))
	}
	return json.Unmarshal(content, out)
}

// maxResponse caps what Call reads from the daemon.
const maxResponse = 8 << 20

// callErr names the context's end when it is what cut the call short (the
// connection's deadline is the context's, and may fire first).
func callErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

func excerpt(b []byte) string {
	const n = 4096
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
