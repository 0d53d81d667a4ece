package awskms

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

// Only AWS's refusal about the key itself is a version's problem; no answer,
// throttling or a server fault fails the sync, and the key keeps its
// versions until the next one.
func TestAnsweredTellsARefusalFromNoAnswer(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}, true},
		{fmt.Errorf("describing k: %w", &smithy.GenericAPIError{Code: "InvalidKeyUsageException"}), true},
		{&smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}, false},
		{&smithy.GenericAPIError{Code: "KMSInternalException", Fault: smithy.FaultServer}, false},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), false},
		{nil, false},
	} {
		if got := answered(c.err); got != c.want {
			t.Errorf("answered(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
