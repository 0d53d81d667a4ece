package verify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// refusing answers every request but the ping with status and header.
func refusing(t *testing.T, status int, header, value string) name.Digest {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set(header, value)
		http.Error(w, "no", status)
	}))
	t.Cleanup(srv.Close)
	img, _ := name.NewDigest(strings.TrimPrefix(srv.URL, "http://") + "/app@sha256:" + strings.Repeat("a", 64))
	return img
}

// A registry that rate-limits past the decision's deadline is its own
// cause, saying so; one that refuses signgate's credentials names the
// registry, the credential source tried and the status.
func TestRegistryFailureCauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})

	img := refusing(t, http.StatusTooManyRequests, "Retry-After", "3600")
	v := decide(t, eng, img)
	if v.Allowed || v.Cause != verify.CauseRateLimited || !strings.Contains(v.Reason, "rate-limits signgate (429 Too Many Requests") || !strings.Contains(v.Reason, "Retry-After 1h0m0s") {
		t.Errorf("429: %s: %s", v.Cause, v.Reason)
	}

	img = refusing(t, http.StatusUnauthorized, "WWW-Authenticate", `Basic realm="r"`)
	v = decide(t, eng, img)
	if v.Allowed || v.Cause != verify.CauseRegistryError || !strings.Contains(v.Reason, "registry "+img.RegistryStr()+" answered 401 Unauthorized; credentials from none (anonymous: no credential source is configured)") {
		t.Errorf("401: %s: %s", v.Cause, v.Reason)
	}
}

// Answered tells a registry that answers over HTTP and refuses (a 429, a
// 401 or 403, a 503 of its own outage) from one that gives no answer (a
// refused connection, a request that hangs past the verification's
// deadline): only the silence counts toward stop_unanswered_after.
func TestRegistryAnswerOrSilence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{VerifyTimeout: 500 * time.Millisecond})

	for _, status := range []int{http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable} {
		v := decide(t, eng, refusing(t, status, "Retry-After", "3600"))
		if v.Allowed || v.Cause.Final() || !v.Answered {
			t.Errorf("%d: answered=%v, %s: %s", status, v.Answered, v.Cause, v.Reason)
		}
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(hang.Close)
	for what, srv := range map[string]string{"refused": closed.URL, "hangs": hang.URL} {
		img, _ := name.NewDigest(strings.TrimPrefix(srv, "http://") + "/app@sha256:" + strings.Repeat("b", 64))
		v := decide(t, eng, img)
		if v.Allowed || v.Cause != verify.CauseRegistryError || v.Answered {
			t.Errorf("%s: answered=%v, %s: %s", what, v.Answered, v.Cause, v.Reason)
		}
	}
}
