package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// tomlKeys lists the TOML keys of a section struct.
func tomlKeys(v any) []string {
	t := reflect.TypeOf(v)
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]; tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// TestReferenceMatchesTheCode keeps docs/config.md and the code in step: every
// key the loader accepts is documented, and every documented key is accepted.
func TestReferenceMatchesTheCode(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]any{
		"[daemon]": DaemonSection{}, "[daemon.runtime]": RuntimeSection{}, "[registry]": RegistrySection{}, "[cache]": CacheSection{},
		"[keys.NAME]": KeySection{}, "[certs.NAME]": CertSection{}, "[[policy]]": PolicySection{},
		"[policy.cosign]": CosignSection{}, "[policy.notation]": NotationSection{},
		"[[policy.attestation]]": AttestationSection{},
		"[kms]":                  KMSSection{}, "[kms.aws]": KMSAWSSection{}, "[kms.gcp]": KMSGCPSection{},
		"[kms.azure]": KMSAzureSection{}, "[kms.vault]": KMSVaultSection{},
		"[trust_roots.NAME]": TrustRootSection{}, "[identities.NAME]": IdentitySection{},
		"[registry.credential_providers]": CredentialProvidersSection{},
		"[notation_plugins.NAME]":         NotationPluginSection{},
		"[policy_source]":                 PolicySourceSection{},
		"[registry.pod_pull_secrets]":     PodPullSecretsSection{},
		"[delegations.NAME]":              DelegationSection{},
		"[hooks]":                         HooksSection{},
	}
	doc := map[string]map[string]bool{}
	var cur string
	row := regexp.MustCompile("^\\| `([a-z][a-z0-9_]*)` \\|")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			cur = ""
			for s := range sections {
				if strings.Contains(line, "`"+s+"`") {
					cur = s
				}
			}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && cur != "" {
			if doc[cur] == nil {
				doc[cur] = map[string]bool{}
			}
			doc[cur][m[1]] = true
		}
	}
	for s, v := range sections {
		for _, k := range tomlKeys(v) {
			if k == "cosign" || k == "notation" || k == "attestation" || (s == "[kms]" && (k == "aws" || k == "gcp" || k == "azure" || k == "vault")) {
				continue // sub-tables, documented on their own
			}
			if !doc[s][k] {
				t.Errorf("%s %s is accepted by the loader but not documented in docs/config.md", s, k)
			}
			delete(doc[s], k)
		}
		for k := range doc[s] {
			t.Errorf("%s %s is documented but the loader does not accept it", s, k)
		}
	}
}
