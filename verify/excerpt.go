package verify

import (
	"fmt"
	"strings"

	"github.com/signgate/signgate/registry"
)

// maxExcerpt bounds what of an error, which may quote a registry's response
// body, reaches a denial message and the log.
const maxExcerpt = 600

// Excerpt is err as one short, printable line: a registry chooses its error
// bodies, and they end up in kubectl events and journald. URLs lose their
// query and userinfo: a redirect's query can be a presigned signature.
func Excerpt(err error) string {
	var b strings.Builder
	space := false
	for _, r := range registry.RedactURLs(err.Error()) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		if b.Len() >= maxExcerpt {
			return strings.TrimSpace(b.String()) + "…"
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// excerptError prints as its message, which quotes an Excerpt of err,
// and keeps err for errors.Is and errors.As.
type excerptError struct {
	msg string
	err error
}

func (e *excerptError) Error() string { return e.msg }
func (e *excerptError) Unwrap() error { return e.err }

// excerptf is fmt.Errorf for messages that end in ": " + Excerpt(err).
func excerptf(err error, format string, args ...any) error {
	return &excerptError{msg: fmt.Sprintf(format, args...) + ": " + Excerpt(err), err: err}
}
