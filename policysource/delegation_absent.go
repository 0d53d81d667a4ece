package policysource

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Absence says why a delegation has no fragment in force, so the policy
// denying its images in the fragment's place says which of never
// published, refused or expired it is, not all three.
type Absence struct {
	// Cause: NeverPublished, NotReached, or the refusal's reason (expired,
	// unsigned, overreach, ...). What a reload is needed for: a change of
	// cause or digest, not of wording.
	Cause     string `json:"cause"`
	Reference string `json:"reference,omitempty"` // the fragment's, as the delegation named it
	Digest    string `json:"digest,omitempty"`
	// Why is said in the denial, after "has no fragment from REF in force: ".
	Why string `json:"why"`
}

// Causes of an Absence that are not refusals.
const (
	NeverPublished = "never_published"
	NotReached     = "not_reached"
)

// AbsenceOf is why a delegation has no fragment in force, given the
// error fetching it gave; an error that is no refusal means its registry
// did not answer with one (nothing there: never published).
func AbsenceOf(err error) *Absence {
	var fe *FragmentExpiredError
	if errors.As(err, &fe) {
		return &Absence{Cause: ExpiredReason, Digest: fe.Digest, Why: fmt.Sprintf("its fragment %s expired at %s", fe.Digest, fe.When())}
	}
	var re *RefusedError
	if errors.As(err, &re) {
		return &Absence{Cause: re.Reason, Digest: re.Digest, Why: fmt.Sprintf("its fragment %s was refused (%s): %v", re.Digest, re.Reason, err)}
	}
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return &Absence{Cause: NeverPublished, Why: "never published: its registry has nothing there"}
	}
	return &Absence{Cause: NotReached, Why: "not fetched yet: its registry was not reached: " + err.Error()}
}

// Same says whether a and b are the same absence, wording aside.
func (a *Absence) Same(b *Absence) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cause == b.Cause && a.Digest == b.Digest
}

// AsRefused is err, a reason to refuse or drop a tenant's fragment
// (digest) found after it was fetched, as a refusal: overreach, or
// malformed (not compiling with the root and the others).
func AsRefused(digest string, err error) error {
	if Reason(err) != "" {
		return err
	}
	reason := "malformed"
	var oe *OverreachError
	if errors.As(err, &oe) {
		reason = "overreach"
	}
	return &RefusedError{Digest: digest, Reason: reason, Err: err}
}
