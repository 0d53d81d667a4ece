// Package localapi is the daemon's local API as its clients see it: the
// request and response types, the routes, and a client for the unix
// socket. The commands that talk to a running daemon (image-verifier,
// keys) use it without depending on the daemon itself.
package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/signgate/signgate/keystore/keysync"
)

// DefaultSocket is where the daemon answers, unless configured otherwise.
const DefaultSocket = "/run/signgate/signgate.sock"

// The routes.
const (
	PathVerify   = "/v1/verify"    // POST VerifyRequest -> VerifyResponse
	PathKeys     = "/v1/keys"      // GET -> KeysResponse
	PathKeysSync = "/v1/keys/sync" // POST -> KeysResponse
)

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
	Keys    []KeyInfo        `json:"keys"`
	Changes []keysync.Change `json:"changes,omitempty"` // sync only
	Error   string           `json:"error,omitempty"`   // sync only: keys that could not be synced
}

// Call sends body (if any) to the daemon at socket and decodes its answer
// into out.
func Call(ctx context.Context, socket, method, path string, body, out any) error {
	// One request per connection: the transport is the call's own, so a
	// kept-alive connection would only idle in both processes.
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://signgate"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}
