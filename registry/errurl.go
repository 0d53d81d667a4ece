package registry

import "net/url"

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

// scrubURLs rewrites, in place, the URL of every *url.Error in err's tree
// as errorURL would: net/http's client quotes the URL of the hop that
// failed, query and all, and a redirect's hop is to a host the registry
// chose, with its presigned signature.
func scrubURLs(err error) {
	switch e := err.(type) {
	case nil:
		return
	case *url.Error:
		if u, perr := url.Parse(e.URL); perr == nil {
			e.URL = errorURL(u)
		} else {
			e.URL = "(an unparsable URL)"
		}
		scrubURLs(e.Err)
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			scrubURLs(x)
		}
	case interface{ Unwrap() error }:
		scrubURLs(e.Unwrap())
	}
}
