package policysource

import (
	"fmt"

	"github.com/signgate/signgate/config"
)

// NoExpiresReason is the refusal of a policy signed without expires.
const NoExpiresReason = "no_expires"

// RequireExpires refuses a root policy signed without expires unless the
// node's config (at cfgPath) opts out: a signed policy that never expires
// can be served forever by whoever controls the registry or the path, and
// the node never learns of newer ones (a freeze). src names the source
// (its reference or layout), digest the artifact.
func RequireExpires(src, digest string, frag *config.Fragment, allow bool, cfgPath string) error {
	if allow || !frag.Expires.IsZero() {
		return nil
	}
	return &RefusedError{Digest: digest, Reason: NoExpiresReason, Err: fmt.Errorf(
		"policy %s (%s) was signed without expires, so a registry or path serving it could hold this node on it forever: "+
			"publish it with an expiry (signgate policy build --expires), or set policy_source.allow_no_expires_unsafe = true in %s",
		src, digest, cfgPath)}
}
