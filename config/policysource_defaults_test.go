package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// policy_source.max_staleness has one default, DefaultPolicyMaxStaleness:
// a source without the key gets it (and on_stale = "deny" needs no more),
// docs/config.md says it once, and the chart sets none of its own.
func TestPolicyMaxStalenessHasOneDefault(t *testing.T) {
	c, err := Parse("/etc/signgate/config.toml", []byte("[keys.s]\npem = \"x\"\n[policy_source]\nreference = \"registry.example/p:1\"\non_stale = \"deny\"\n[policy_source.cosign]\nkeys = [\"s\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PolicySource.MaxStaleness != DefaultPolicyMaxStaleness || c.PolicySource.Refresh != DefaultPolicyRefresh || !c.PolicySource.DenyStale {
		t.Errorf("policy_source defaults: %+v", c.PolicySource)
	}
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)[strings.Index(string(doc), "## `[policy_source]`"):]
	if end := strings.Index(sec[3:], "\n## "); end >= 0 {
		sec = sec[:end+3]
	}
	rows := regexp.MustCompile("(?m)^\\| `max_staleness` \\| `([^`]*)` \\|").FindAllStringSubmatch(sec, -1)
	want := strings.TrimSuffix(strings.TrimSuffix(DefaultPolicyMaxStaleness.String(), "0s"), "0m")
	if len(rows) != 1 || rows[0][1] != want {
		t.Errorf("docs/config.md [policy_source] max_staleness default: %v, want one row saying %q", rows, want)
	}
	values, err := os.ReadFile("../charts/signgate/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^  maxStaleness: (.*?)\s*(#.*)?$`).FindStringSubmatch(string(values)); m == nil || m[1] != `""` {
		t.Errorf("charts/signgate/values.yaml policySource.maxStaleness: %q; leave it empty for signgate's default", m)
	}
}
