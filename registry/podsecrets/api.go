// Package podsecrets reads a pod's image pull secrets from the Kubernetes
// API server, so that signgate reads the pod's signatures with the
// credentials the pod itself names (spec.imagePullSecrets, and optionally
// its service account's). It speaks the three GETs it needs (a pod, a
// service account, a secret) over plain HTTPS instead of client-go: no
// list, no watch, no informer holding every secret of the cluster in
// memory. Answers are size-capped, every call is bounded by the decision's
// deadline, and a secret's content is never logged or put in an error.
package podsecrets

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes caps one answer of the API server: a Secret holds at
// most 1 MiB of data, which base64 and JSON make about 1.4 MiB.
const MaxResponseBytes = 2 << 20

// Conn says how to reach the API server and who signgate is to it.
type Conn struct {
	Server    string // https://host:port
	CAFile    string // the API server's CA bundle
	CAData    []byte
	TokenFile string // a bearer token, read again on every call (projected tokens rotate)
	Token     string
	CertFile  string // or a client certificate
	KeyFile   string
	CertData  []byte
	KeyData   []byte
}

// In-cluster paths, as client-go's rest.InClusterConfig reads them.
const (
	InClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	InClusterCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// InCluster is the connection of a pod: the service's address from the
// environment (server, if set, replaces it: a pod on the host network of
// a cluster without kube-proxy cannot reach the service IP), and the
// mounted service-account token and CA.
func InCluster(server string) (Conn, error) {
	if server == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return Conn{}, errors.New("not in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset): name a kubeconfig or api_server")
		}
		server = "https://" + net.JoinHostPort(host, port)
	}
	return Conn{Server: server, CAFile: InClusterCAFile, TokenFile: InClusterTokenFile}, nil
}

// API is a client for the few GETs podsecrets makes.
type API struct {
	server *url.URL
	conn   Conn

	mu    sync.Mutex
	stamp string // the CA and client certificate files as last read
	hc    *http.Client
	tr    *http.Transport
}

// NewAPI checks c and prepares its TLS.
func NewAPI(c Conn) (*API, error) {
	u, err := url.Parse(c.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("API server %q: want an https:// URL", c.Server)
	}
	a := &API{server: u, conn: c}
	tr, hasCert, err := a.transport()
	if err != nil {
		return nil, err
	}
	if c.TokenFile == "" && c.Token == "" && !hasCert {
		return nil, fmt.Errorf("API server %s: no credential (token or client certificate)", c.Server)
	}
	a.use(tr, a.fileStamp())
	return a, nil
}

// fileStamp names the CA and client certificate files' current versions:
// the kubelet rotates its client certificate (kubelet-client-current.pem,
// a symlink it moves), and a CA bundle may be rotated too.
func (a *API) fileStamp() string {
	var b strings.Builder
	for _, f := range []string{a.conn.CAFile, a.conn.CertFile, a.conn.KeyFile} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s ?\n", f)
		}
	}
	return b.String()
}

// client is the HTTP client for the files as they are now: when the CA or
// client certificate changed since they were read, they are read again
// and new connections use them (idle ones, made with the old, are
// closed). Files that do not load (caught mid-rotation) leave the client
// in use as it was, until they do.
func (a *API) client() *http.Client {
	st := a.fileStamp()
	a.mu.Lock()
	defer a.mu.Unlock()
	if st == a.stamp {
		return a.hc
	}
	tr, _, err := a.transport()
	if err != nil {
		return a.hc
	}
	old := a.tr
	a.useLocked(tr, st)
	old.CloseIdleConnections()
	return a.hc
}

func (a *API) use(tr *http.Transport, stamp string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.useLocked(tr, stamp)
}

func (a *API) useLocked(tr *http.Transport, stamp string) {
	a.tr, a.stamp = tr, stamp
	a.hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// transport reads the CA and client certificate and builds a transport
// with them; hasCert says whether it has a client certificate.
func (a *API) transport() (*http.Transport, bool, error) {
	c := a.conn
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	ca := c.CAData
	if c.CAFile != "" {
		var err error
		if ca, err = os.ReadFile(c.CAFile); err != nil {
			return nil, false, fmt.Errorf("API server CA: %w", err)
		}
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, false, fmt.Errorf("API server CA %s: no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.CertFile != "" || c.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, false, fmt.Errorf("API client certificate %s: %w", c.CertFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case len(c.CertData) > 0:
		cert, err := tls.X509KeyPair(c.CertData, c.KeyData)
		if err != nil {
			return nil, false, fmt.Errorf("API client certificate (kubeconfig data): %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Transport{
		TLSClientConfig:       tc,
		Proxy:                 nil, // the API server, never a proxy that would see the token
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}, len(tc.Certificates) > 0, nil
}

// StatusError is a non-200 answer: the path, the status and the API
// server's own message (which names objects and verbs, never a secret's
// content).
type StatusError struct {
	Path    string
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("API server GET %s: %d %s", e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized {
		s += " (signgate's RBAC: docs/install.md, Pod pull secrets)"
	}
	return s
}

// NotFound says whether err is a 404.
func NotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// get reads path into out.
func (a *API) get(ctx context.Context, path string, out any) error {
	u := *a.server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "signgate")
	tok := a.conn.Token
	if a.conn.TokenFile != "" {
		b, err := os.ReadFile(a.conn.TokenFile)
		if err != nil {
			return fmt.Errorf("API server token: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return fmt.Errorf("API server GET %s: %w", path, scrub(err))
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxResponseBytes {
		return fmt.Errorf("API server GET %s: answer of %d bytes exceeds the %d-byte limit", path, resp.ContentLength, MaxResponseBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("API server GET %s: %w", path, scrub(err))
	}
	if len(body) > MaxResponseBytes {
		return fmt.Errorf("API server GET %s: answer exceeds the %d-byte limit", path, MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var st struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &st)
		return &StatusError{Path: path, Status: resp.StatusCode, Message: clip(st.Message, 300)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		// Not the body: for a secret it is the secret.
		return fmt.Errorf("API server GET %s: the answer is not the JSON expected", path)
	}
	return nil
}

// scrub is a transport error without its URL: the message names the path
// already, and the server's address is signgate's config, not news.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
