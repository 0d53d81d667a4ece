package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
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

// serveAPI answers local questions on a unix socket only root can reach:
// today the image verifier's "may this pull proceed?".
func (d *Daemon) serveAPI(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("api socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("api socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("api socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("api socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/verify", d.handleVerify)
	d.serve(ctx, l, mux, "api")
	return nil
}

// serve serves h on l until ctx ends.
func (d *Daemon) serve(ctx context.Context, l net.Listener, h http.Handler, what string) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error(what+" server stopped", "address", l.Addr().String(), "err", err)
		}
	}()
}

func (d *Daemon) handleVerify(w http.ResponseWriter, r *http.Request) {
	var req VerifyRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := d.verifyPull(r.Context(), req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (d *Daemon) verifyPull(ctx context.Context, req VerifyRequest) VerifyResponse {
	ref, err := name.ParseReference(req.Image)
	if err != nil {
		return VerifyResponse{Reason: fmt.Sprintf("image %q is not a valid reference: %v", req.Image, err)}
	}
	img, err := name.NewDigest(ref.Context().Name() + "@" + req.Digest)
	if err != nil {
		return VerifyResponse{Reason: fmt.Sprintf("image %s: digest %q: %v", req.Image, req.Digest, err)}
	}
	// A pull may wait for the whole verification, unlike CreateContainer.
	ctx, cancel := context.WithTimeout(ctx, d.config().Engine.VerifyTimeout+time.Second)
	defer cancel()
	v := d.Engine().DecideAnyNamespace(ctx, img)
	if !v.Allowed {
		d.log.Warn("signgate refused pull", "image", req.Image, "digest", req.Digest, "policy", v.Policy, "reason", v.Reason)
	}
	return VerifyResponse{Allowed: v.Allowed, Reason: v.Reason, Policy: v.Policy}
}
