package policysource

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Why a delegation has no fragment is told apart: nothing at its
// reference (never published), a refusal (with its reason and digest),
// a fragment past its expires (with when), or a registry not reached.
func TestAbsenceSaysWhich(t *testing.T) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		err         error
		cause, want string
	}{
		{fmt.Errorf("policy r/t:p: %w", &transport.Error{StatusCode: http.StatusNotFound}), NeverPublished, "never published"},
		{errors.New("dial tcp: connection refused"), NotReached, "not reached: dial tcp"},
		{&RefusedError{Digest: "sha256:a", Reason: "overreach", Err: errors.New("covers ns-b")}, "overreach", "sha256:a was refused (overreach): covers ns-b"},
		{TenantExpiredError("team-a", &Tenant{Reference: "r/t:p", Digest: "sha256:b", Body: "serial = 1\nexpires = " + at.Format(time.RFC3339) + "\n"}), ExpiredReason, "sha256:b expired at 2027-01-01T00:00:00Z"},
		{AsRefused("sha256:c", &OverreachError{Delegation: "team-a", Problem: "x"}), "overreach", "sha256:c was refused (overreach)"},
		{AsRefused("sha256:d", errors.New("does not compile")), "malformed", "sha256:d was refused (malformed): does not compile"},
	} {
		if a := AbsenceOf(c.err); a.Cause != c.cause || !strings.Contains(a.Why, c.want) {
			t.Errorf("%v: %+v, want %s, %q", c.err, a, c.cause, c.want)
		}
	}
}
