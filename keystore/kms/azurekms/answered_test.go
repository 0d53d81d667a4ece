package azurekms

import (
	"errors"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Only Key Vault's refusal is a version's problem; no answer, throttling or
// a server fault fails the sync, and the key keeps its versions until the
// next one.
func TestAnsweredTellsARefusalFromNoAnswer(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&azcore.ResponseError{StatusCode: http.StatusForbidden}, true},
		{&azcore.ResponseError{StatusCode: http.StatusTooManyRequests}, false},
		{&azcore.ResponseError{StatusCode: http.StatusServiceUnavailable}, false},
		{errors.New("connection refused"), false},
	} {
		if got := answered(c.err); got != c.want {
			t.Errorf("answered(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
