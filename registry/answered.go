package registry

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
)

// Answered says whether err came after the registry answered over HTTP:
// any status (a 401 or 403 to the credentials, a 429, a 5xx of its own
// outage), a rate limit signgate could not wait out, or a referrers
// listing too large to hold. Over TLS an on-path attacker cannot forge
// one. Anything else (connection refused or reset, DNS, a TLS handshake
// that failed, a deadline, a body cut short) is silence: what whoever
// blocks the node's path to the registry can make.
func Answered(err error) bool {
	return err != nil && (statusOf(err) != 0 || errors.Is(err, ErrRateLimited) || errors.Is(err, ErrReferrersMemory))
}

// AnsweredIn is Answered for a read made under ctx (WithAnswers): also
// true when, during it, the registry answered a request with a status
// that is retried (408, 429, 5xx), so that a deadline reached while
// retrying a registry that answers 503 is its outage, not silence.
func AnsweredIn(ctx context.Context, err error) bool {
	if Answered(err) {
		return true
	}
	h, ok := ctx.Value(answersKey{}).(*atomic.Bool)
	return err != nil && ok && h.Load()
}

type answersKey struct{}

// WithAnswers is ctx noting the retried answers its requests get, for
// AnsweredIn.
func WithAnswers(ctx context.Context) context.Context {
	return context.WithValue(ctx, answersKey{}, new(atomic.Bool))
}

// noteAnswer records, for AnsweredIn, a response with status to a request
// made under ctx.
func noteAnswer(ctx context.Context, status int) {
	if status != http.StatusRequestTimeout && status != http.StatusTooManyRequests && status < 500 {
		return
	}
	if h, ok := ctx.Value(answersKey{}).(*atomic.Bool); ok {
		h.Store(true)
	}
}
