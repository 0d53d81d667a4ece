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

// policy_source.max_validity has one default, DefaultPolicyMaxValidity,
// which docs/config.md says, and the chart sets none of its own; one below
// max_staleness is an error, naming the key.
func TestPolicyMaxValidityHasOneDefault(t *testing.T) {
	src := "[keys.s]\npem = \"x\"\n[policy_source]\nreference = \"registry.example/p:1\"\n%s[policy_source.cosign]\nkeys = [\"s\"]\n"
	c, err := Parse("/etc/signgate/config.toml", []byte(strings.Replace(src, "%s", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.PolicySource.MaxValidity != DefaultPolicyMaxValidity {
		t.Errorf("policy_source.max_validity default: %s", c.PolicySource.MaxValidity)
	}
	if _, err := Parse("/etc/signgate/config.toml", []byte(strings.Replace(src, "%s", "max_validity = \"1h\"\n", 1))); err == nil || !strings.Contains(err.Error(), "policy_source.max_validity") {
		t.Errorf("max_validity below max_staleness: %v", err)
	}
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "| `max_validity` | `" + strings.TrimSuffix(strings.TrimSuffix(DefaultPolicyMaxValidity.String(), "0s"), "0m") + "`"
	if strings.Count(string(doc), "| `max_validity` |") != 1 || !strings.Contains(string(doc), want) {
		t.Errorf("docs/config.md: want one max_validity row starting %q", want)
	}
	values, err := os.ReadFile("../charts/signgate/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^  maxValidity: (.*?)\s*(#.*)?$`).FindStringSubmatch(string(values)); m == nil || m[1] != `""` {
		t.Errorf("charts/signgate/values.yaml policySource.maxValidity: %q; leave it empty for signgate's default", m)
	}
}

// A default gives way to what the file sets: a file the previous release
// took, with a day's refresh and no max_staleness, or a staleness above
// 90 days and no max_validity, still parses (before, each was refused by
// the new defaults, and the node did not start after the upgrade). Values
// the file sets still contradict each other.
func TestPolicySourceDefaultsGiveWayToTheFile(t *testing.T) {
	src := "[keys.s]\npem = \"x\"\n[policy_source]\nreference = \"registry.example/p:1\"\n%s[policy_source.cosign]\nkeys = [\"s\"]\n"
	for set, want := range map[string]struct{ staleness, validity string }{
		"refresh = \"24h\"\n":                         {"48h0m0s", "2160h0m0s"},
		"max_staleness = \"2400h\"\n":                 {"2400h0m0s", "2400h0m0s"},
		"refresh = \"1200h\"\n":                       {"2400h0m0s", "2400h0m0s"},
		"refresh = \"1m\"\nmax_staleness = \"10m\"\n": {"10m0s", "2160h0m0s"},
	} {
		c, err := Parse("/etc/signgate/config.toml", []byte(strings.Replace(src, "%s", set, 1)))
		if err != nil {
			t.Errorf("%q: %v", set, err)
			continue
		}
		if got := c.PolicySource.MaxStaleness.String(); got != want.staleness {
			t.Errorf("%q: max_staleness %s, want %s", set, got, want.staleness)
		}
		if got := c.PolicySource.MaxValidity.String(); got != want.validity {
			t.Errorf("%q: max_validity %s, want %s", set, got, want.validity)
		}
	}
	for _, set := range []string{"refresh = \"24h\"\nmax_staleness = \"24h\"\n", "max_staleness = \"2400h\"\nmax_validity = \"2160h\"\n"} {
		if _, err := Parse("/etc/signgate/config.toml", []byte(strings.Replace(src, "%s", set, 1))); err == nil {
			t.Errorf("%q: parsed", set)
		}
	}
}
