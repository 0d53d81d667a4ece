package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/verify"

	"golang.org/x/net/netutil"
)

// The local API's types, as its clients use them.
type (
	VerifyRequest  = localapi.VerifyRequest
	VerifyResponse = localapi.VerifyResponse
	KeyInfo        = localapi.KeyInfo
	KeysResponse   = localapi.KeysResponse
)

// serveAPI answers local questions on a unix socket only root can reach:
// the image verifier's "may this pull proceed?", the keys, and health for
// probes that must not depend on metrics_address.
func (d *Daemon) serveAPI(ctx context.Context, path string) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+localapi.PathVerify, d.handleVerify)
	mux.HandleFunc("GET "+localapi.PathKeys, d.handleKeys)
	mux.HandleFunc("POST "+localapi.PathKeysSync, d.handleKeysSync)
	mux.HandleFunc("GET "+localapi.PathRunning, d.handleRunning)
	d.handleHealth(mux)
	d.listen(ctx, "api", path, func() (net.Listener, error) { return listenUnix(path) },
		func(l net.Listener) { d.serve(ctx, l, mux, "api") })
}

// listenUnix binds the API socket, replacing a stale one, mode 0600.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	return l, nil
}

// Limits on the daemon's listeners (the local API and metrics): a client
// that keeps connections open, idle or many at once, must not grow the
// daemon until the node kills it, and with it every container creation.
var (
	maxConns    = 32
	idleTimeout = 30 * time.Second
)

// serve serves h on l until ctx ends.
func (d *Daemon) serve(ctx context.Context, l net.Listener, h http.Handler, what string) {
	l = netutil.LimitListener(l, maxConns)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idleTimeout, MaxHeaderBytes: 16 << 10}
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
	ctx, cancel := context.WithTimeout(ctx, d.config().Registry.VerifyTimeout+time.Second)
	defer cancel()
	// Nothing runs yet: the manifest containerd pulls for this host
	// stands for the one that will (a creation binds it to its layers).
	runs, err := d.Engine().PlatformManifest(ctx, img, verify.HostPlatform())
	if err != nil {
		d.log.Debug("pull: cannot tell which platform manifest this host pulls; only the index's signatures count", "image", req.Image, "err", err)
	}
	v := d.Engine().DecideAnyNamespace(ctx, img, runs)
	if !v.Allowed {
		d.log.Warn("signgate refused pull", "image", req.Image, "digest", req.Digest, "policy", v.Policy, "reason", v.Reason)
	}
	return VerifyResponse{Allowed: v.Allowed, Reason: v.Reason, Policy: v.Policy}
}

// Keys lists every key the daemon knows: static ones from the snapshot in
// force, and each KMS key's trusted versions (or why it has none).
func (d *Daemon) Keys() []KeyInfo {
	var out []KeyInfo
	for _, k := range d.Engine().Snapshot().Keys.Keys() {
		if k.Version == "" {
			out = append(out, KeyInfo{Name: k.Name, Source: k.Source, Fingerprint: k.Fingerprint, Algorithm: k.Algorithm, State: "static"})
		}
	}
	s := d.syncer.Load()
	for _, st := range s.Statuses() {
		base := KeyInfo{Name: st.Name, Source: st.Source, LastSync: st.LastSync, LastError: st.LastError}
		// Versions the KMS calls enabled that cannot be used: listed, so
		// an operator sees why a rotation did not take.
		for _, u := range st.Unusable {
			ki := base
			ki.Version, ki.State = u.Version, "untrusted: unusable: "+u.Reason
			out = append(out, ki)
		}
		if len(st.Versions) == 0 {
			why := st.Problem
			if st.LastError != "" {
				why = "not synced: " + st.LastError
			}
			base.State = "untrusted: " + why
			out = append(out, base)
			continue
		}
		for _, t := range st.Versions {
			ki := base
			ki.Version, ki.Fingerprint, ki.Algorithm = t.Version, t.Fingerprint, t.Algorithm
			switch {
			case s.IsStale(st.Name):
				ki.State = "stale: not trusted (not synced within kms.max_staleness)"
			case !t.GraceUntil.IsZero():
				ki.State = "grace until " + t.GraceUntil.UTC().Format(time.RFC3339)
			default:
				ki.State = "current"
			}
			if st.FromState && st.LastError != "" {
				ki.State += " (last-known-good)"
			}
			out = append(out, ki)
		}
	}
	return append(out, d.keylessInfos()...)
}

// keylessInfos lists the trust roots and the identities under them.
func (d *Daemon) keylessInfos() []KeyInfo {
	cfg := d.config()
	var out []KeyInfo
	for _, n := range slices.Sorted(maps.Keys(cfg.TrustRoots)) {
		tr := cfg.TrustRoots[n]
		ki := KeyInfo{Name: n, Source: "trust root " + tr.Source, Fingerprint: tr.Digest, Algorithm: "sigstore trusted root", State: "current"}
		for _, src := range cfg.TUF {
			if src.Name == n {
				ki.Source = "trust root from TUF " + src.Mirror
				if st, ok := d.rootStatus.Load(n); ok {
					ki.LastSync, ki.LastError = st.(rootStatus).last, st.(rootStatus).err
				}
			}
		}
		switch why := tr.Stale(time.Now()); {
		case tr.Material == nil:
			ki.State = "untrusted: not fetched yet"
		case why != "":
			ki.State = "untrusted: " + why
		case ki.LastError != "":
			ki.State = "current (last-known-good)"
		}
		out = append(out, ki)
	}
	for _, id := range cfg.Identities {
		ki := KeyInfo{Name: id.Name, Source: "keyless " + id.String() + " under trust root " + id.TrustRoot, Algorithm: "fulcio certificate", State: "current"}
		switch sg := d.Engine().Snapshot().Signers[id.Name]; {
		case sg == nil:
			ki.State = "untrusted: its trust root is not loaded"
		case sg.Root.Stale(time.Now()) != "":
			ki.State = "untrusted: its trust root is stale"
		}
		out = append(out, ki)
	}
	return out
}

func (d *Daemon) handleKeys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(KeysResponse{Keys: d.Keys()})
}

func (d *Daemon) handleKeysSync(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), d.config().KMS.RequestTimeout+time.Second)
	defer cancel()
	changes, err := d.SyncKeys(ctx)
	resp := KeysResponse{Keys: d.Keys()}
	for _, c := range changes {
		resp.Changes = append(resp.Changes, localapi.KeyChange{Key: c.Key, Kind: string(c.Kind), Version: c.Version, Fingerprint: c.Fingerprint, Detail: c.Detail})
	}
	if err != nil {
		resp.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
