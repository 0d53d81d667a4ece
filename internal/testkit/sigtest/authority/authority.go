// Package authority names what a signing-authority signature carries for
// its verification plugin, as AWS Signer's do, shared by the test signer
// (sigtest) and the test plugin (sigtest/signerplugin).
package authority

import "strings"

// Plugin is the test plugin's name, as a signature names it.
const Plugin = "io.signgate.test.signer"

// ProfileAttr is the critical attribute naming the signing profile
// version that signed (AWS Signer: com.amazonaws.signer.signingProfileVersion).
const ProfileAttr = "io.signgate.test.signer.signingProfileVersion"

// Profile is the signing profile of a profile version's ARN
// ("arn:aws:signer:us-west-2:123456789012:/signing-profiles/app/v1" ->
// ".../signing-profiles/app"): what trusted identities name.
func Profile(version string) string {
	const seg = "/signing-profiles/"
	i := strings.Index(version, seg)
	if i < 0 {
		return version
	}
	if j := strings.IndexByte(version[i+len(seg):], '/'); j >= 0 {
		return version[:i+len(seg)+j]
	}
	return version
}
