// Package policytest writes the text of signed policy artifacts for tests
// of [policy_source] and its delegations.
package policytest

import "fmt"

// TeamARoot is a root policy artifact at serial 1, expiring in 2100: key security
// (securityPEM) and key team-a (tenantPEM); namespace team-a delegated,
// over host/team-a/**, to the fragment at tenantRef signed by team-a;
// then policies (TOML [[policy]] tables), then "root-default", requiring
// security's signature on every other image.
func TeamARoot(securityPEM, tenantPEM, tenantRef, host, policies string) string {
	return fmt.Sprintf(`serial = 1
expires = 2100-01-01T00:00:00Z
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
`, securityPEM, tenantPEM, tenantRef, host, policies)
}
