// Package policytest writes the text of signed policy artifacts for tests
// of [policy_source] and its delegations.
package policytest

import (
	"fmt"
	"time"
)

// TeamARoot is a root policy artifact at serial 1, expiring at Soon: key security
// (securityPEM) and key team-a (tenantPEM); namespace team-a delegated,
// over host/team-a/**, to the fragment at tenantRef signed by team-a;
// then policies (TOML [[policy]] tables), then "root-default", requiring
// security's signature on every other image.
func TeamARoot(securityPEM, tenantPEM, tenantRef, host, policies string) string {
	return fmt.Sprintf(`serial = 1
expires = %s
[keys.security]
pem = '''
%s'''
[keys.team-a]
pem = '''
%s'''
[delegations.team-a]
reference = %q
namespaces = ["team-a"]
scopes = ["%s/team-a/**"]
keys = ["team-a"]

%s
[[policy]]
name = "root-default"
scopes = ["**"]
  [policy.cosign]
  keys = ["security"]
`, Soon, securityPEM, tenantPEM, tenantRef, host, policies)
}

// Soon is an expires for tests' policies: 30 days past the clock at start,
// inside policy_source.max_validity (an expiry in 2100 is refused).
var Soon = time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
