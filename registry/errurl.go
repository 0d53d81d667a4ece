package registry

import (
	"net/url"
	"regexp"
)

// errorURL is u as errors, logs and observers may quote it: no userinfo
// and no query or fragment. A registry's redirect may carry a presigned
// S3 or CDN signature in its query, and an error flows into the verdict,
// the CRI denial message tenants read, and the daemon's log.
func errorURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// quotedURL finds an http(s) URL in an error's text: scheme, userinfo,
// the rest up to the query, query, fragment.
var quotedURL = regexp.MustCompile(`(?i)(https?://)([^\s/"'@]*@)?([^\s"'?#]*)(\?[^\s"'#]*)?(#[^\s"']*)?`)

// scrubbed is an error whose text quotes its URLs as errorURL would; it
// unwraps to the original, so errors.Is and errors.As see what they did.
type scrubbed struct {
	err error
	msg string
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrubURLs is err with the URLs in its text stripped of userinfo, query
// and fragment: net/http quotes the URL of a redirect's hop, oras the URL
// that answered, and what wraps them (fmt.Errorf) has already copied
// that text, so only the text can be mended. A redirect's hop is to a
// host the registry chose, with its presigned signature.
func scrubURLs(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := RedactURLs(msg)
	if clean == msg {
		return err
	}
	return &scrubbed{err: err, msg: clean}
}

// RedactURLs is s with every http(s) URL in it stripped of userinfo,
// query and fragment, for text that reaches a denial or the log.
func RedactURLs(s string) string { return quotedURL.ReplaceAllString(s, "${1}${3}") }
