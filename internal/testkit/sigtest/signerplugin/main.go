// Command signerplugin is a Notary Project verification plugin that
// behaves as a managed signing service's does (AWS Signer's, whose plugin
// is not served here): it checks that the signature's signing profile is a
// trusted identity, and asks "the service" whether the profile is revoked.
// The service is a JSON file beside the executable (<path>.json):
//
//	{"revoked": ["<profile ARN>"], "mode": "", "ran": "/path/to/log"}
//
// mode "unreachable" fails as the plugin does when the service cannot be
// reached; "hang", "crash", "nonsense" and "partial" misbehave at
// verify-signature; "env" fails naming its environment's AWS_ and
// SIGNGATE_ variables.
// Every run appends its command to ran, so tests see what was executed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/cli"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signgate/signgate/internal/testkit/sigtest/authority"
)

type service struct {
	Revoked []string `json:"revoked"`
	Mode    string   `json:"mode"`
	Ran     string   `json:"ran"`
}

func load() service {
	var s service
	exe, err := os.Executable()
	if err != nil {
		return s
	}
	if b, err := os.ReadFile(exe + ".json"); err == nil {
		_ = json.Unmarshal(b, &s)
	}
	return s
}

type signer struct {
	name string
	svc  service
}

func (p *signer) GetMetadata(context.Context, *plugin.GetMetadataRequest) (*plugin.GetMetadataResponse, error) {
	return &plugin.GetMetadataResponse{Name: p.name, Description: "signgate's stand-in for a managed signing service's plugin",
		Version: "1.0.0", URL: "https://github.com/signgate/signgate", SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities: []plugin.Capability{plugin.CapabilityTrustedIdentityVerifier, plugin.CapabilityRevocationCheckVerifier}}, nil
}

func (p *signer) VerifySignature(_ context.Context, req *plugin.VerifySignatureRequest) (*plugin.VerifySignatureResponse, error) {
	switch p.svc.Mode {
	case "env":
		// What it was given: a plugin must not see signgate's secrets.
		var names []string
		for _, kv := range os.Environ() {
			// The names tests set, short enough for a denial's reason.
			if n := strings.SplitN(kv, "=", 2)[0]; strings.HasPrefix(n, "AWS_") || strings.HasPrefix(n, "SIGNGATE_") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return nil, plugin.NewGenericError("env: " + strings.Join(names, " "))
	case "unreachable":
		return nil, plugin.NewGenericError("unable to reach the signing service to check the signing profile's revocation")
	}
	version, _ := req.Signature.CriticalAttributes.ExtendedAttributes[authority.ProfileAttr].(string)
	profile := authority.Profile(version)
	results := map[plugin.Capability]*plugin.VerificationResult{}
	for _, c := range req.TrustPolicy.SignatureVerification {
		switch c {
		case plugin.CapabilityTrustedIdentityVerifier:
			if version != "" && (slices.Contains(req.TrustPolicy.TrustedIdentities, profile) || slices.Contains(req.TrustPolicy.TrustedIdentities, version)) {
				results[c] = &plugin.VerificationResult{Success: true}
			} else {
				results[c] = &plugin.VerificationResult{Reason: fmt.Sprintf("signing profile %q is not a trusted identity", profile)}
			}
		case plugin.CapabilityRevocationCheckVerifier:
			if slices.Contains(p.svc.Revoked, profile) {
				results[c] = &plugin.VerificationResult{Reason: fmt.Sprintf("signing profile %q is revoked", profile)}
			} else {
				results[c] = &plugin.VerificationResult{Success: true}
			}
		}
	}
	return &plugin.VerifySignatureResponse{VerificationResults: results, ProcessedAttributes: []any{authority.ProfileAttr}}, nil
}

func (p *signer) DescribeKey(context.Context, *plugin.DescribeKeyRequest) (*plugin.DescribeKeyResponse, error) {
	return nil, plugin.NewUnsupportedError("describe-key")
}

func (p *signer) GenerateSignature(context.Context, *plugin.GenerateSignatureRequest) (*plugin.GenerateSignatureResponse, error) {
	return nil, plugin.NewUnsupportedError("generate-signature")
}

func (p *signer) GenerateEnvelope(context.Context, *plugin.GenerateEnvelopeRequest) (*plugin.GenerateEnvelopeResponse, error) {
	return nil, plugin.NewUnsupportedError("generate-envelope")
}

func main() {
	svc := load()
	if svc.Ran != "" && len(os.Args) > 1 {
		if f, err := os.OpenFile(svc.Ran, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, os.Args[0], os.Args[1])
			f.Close()
		}
	}
	if len(os.Args) == 2 && os.Args[1] == string(plugin.CommandVerifySignature) {
		misbehave(svc.Mode) // before the framework, which holds stdout
	}
	// The plugin is whatever name its executable was installed under.
	name := strings.TrimPrefix(lastElem(os.Args[0]), plugin.BinaryPrefix)
	c, err := cli.New(&signer{name: name, svc: svc})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.Execute(context.Background(), os.Args)
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// misbehave does what a broken plugin does, if mode says to.
func misbehave(mode string) {
	switch mode {
	case "hang":
		// A child holding the pipes, as a wedged helper would.
		c := exec.Command("sleep", "3600")
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		_ = c.Start()
		time.Sleep(time.Hour)
	case "crash":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "nonsense":
		fmt.Print(`{"verificationResults": "all good"`)
		os.Exit(0)
	case "partial":
		// Only the identity, though revocation was asked too.
		fmt.Print(`{"verificationResults": {"SIGNATURE_VERIFIER.TRUSTED_IDENTITY": {"success": true}}, "processedAttributes": []}`)
		os.Exit(0)
	}
}
