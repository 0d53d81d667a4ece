package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// TestShapeErrorsNameTheFault: what config checks alone (decoding, unknown
// keys, durations, counts, ranges) is refused with the file and key path,
// every problem in one message.
func TestShapeErrorsNameTheFault(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown key", "[daemon]\nnri_sokcet = \"x\"\n", []string{`unknown key(s): daemon.nri_sokcet (did you mean "nri_socket"?)`}},
		{"unknown key in a policy", "[[policy]]\nname = \"prod\"\n[policy.cosign]\nkyes = [\"a\"]\n", []string{`policy[0] "prod".cosign.kyes (did you mean "keys"?)`}},
		{"syntax", "[daemon]\n[daemon\n", []string{"config.toml:3"}},
		{"require neither string nor count", "[[policy]]\n[policy.cosign]\nrequire = 1.5\n", []string{"require = 1.5"}},
		{"several at once", "[cache]\nallow_ttl = \"ten minutes\"\n[daemon]\nplugin_index = \"1\"\ndecision_deadline = \"2m\"\n[registry]\nmax_blob_bytes = -1\n",
			[]string{`cache.allow_ttl = "ten minutes"`, `daemon.plugin_index = "1"`, "daemon.decision_deadline = 2m0s: at most 1m", "registry.max_blob_bytes = -1"}},
		{"kms", "[kms]\nsync_interval = \"1s\"\ngrace_period = \"-1h\"\n", []string{`kms.sync_interval = "1s": at least 10s`, `kms.grace_period = "-1h"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("/etc/signgate/config.toml", []byte(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(c.want, "/etc/signgate/config.toml") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestDefaults: an empty config takes every default from defaults.go, and
// paths it names are read relative to its own directory.
func TestDefaults(t *testing.T) {
	c, err := config.Parse("/etc/signgate/config.toml", []byte("[kms.vault]\ntoken_file = \"token\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Daemon
	if d.NRISocket != config.DefaultNRISocket || d.DecisionDeadline != config.DefaultDecisionDeadline || d.APISocket != config.DefaultAPISocket ||
		d.MetricsAddress != config.DefaultMetricsAddress || !d.Preverify || d.Annotate != config.DefaultAnnotate || len(d.Snapshotters) != 1 || d.Snapshotters[0] != config.DefaultSnapshotter {
		t.Errorf("daemon defaults: %+v", d)
	}
	if c.Registry.VerifyTimeout != config.DefaultVerifyTimeout || c.Registry.MaxReferrersBytes != config.DefaultMaxReferrersBytes ||
		c.Cache.AllowTTL != config.DefaultAllowTTL || c.Cache.MaxEntries != config.DefaultMaxEntries ||
		c.KMS.RequestTimeout != config.DefaultKMSRequestTimeout || c.KMS.GracePeriod != config.DefaultKMSGracePeriod {
		t.Errorf("defaults: %+v %+v %+v", c.Registry, c.Cache, c.KMS)
	}
	if got := c.KMS.Providers["vault"].TokenFile; got != "/etc/signgate/token" {
		t.Errorf("kms.vault.token_file resolved to %q", got)
	}
	if off, err := config.Parse("c.toml", []byte("[daemon]\nmetrics_address = \"\"\npreverify = false\n")); err != nil || off.Daemon.MetricsAddress != "" || off.Daemon.Preverify {
		t.Errorf("set to off: %v %+v", err, off)
	}
}

// On CRI-O, what signgate cannot do there is refused by name, not
// accepted and silently not done.
func TestCRIORefusesWhatItCannotDo(t *testing.T) {
	base := "[daemon]\n%s[daemon.runtime]\nname = \"crio\"\n[[policy]]\nname = \"apps\"\nscopes = [\"**\"]\nmode = \"allow\"\n%s"
	for _, c := range []struct{ daemon, policy, want string }{
		{"", "on_untrusted_running = \"stop\"\n", `policy[0] "apps".on_untrusted_running = "stop": on CRI-O`},
		{"prove_interval = \"15m\"\n", "", `daemon.prove_interval = "15m": the enforcement probe runs through containerd's CRI`},
	} {
		_, err := config.Parse("/etc/signgate/config.toml", []byte(fmt.Sprintf(base, c.daemon, c.policy)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	if _, err := config.Parse("/etc/signgate/config.toml", []byte(fmt.Sprintf(base, "", "on_untrusted_running = \"report\"\n"))); err != nil {
		t.Errorf("report on CRI-O: %v", err)
	}
}

// On CRI-O a stop policy is taken once crio_socket names CRI-O's CRI,
// through which signgate stops; the socket is never guessed, and a
// relative one is refused by key.
func TestCRIOStopsThroughItsNamedSocket(t *testing.T) {
	base := "[daemon.runtime]\nname = \"crio\"\n%s[[policy]]\nname = \"apps\"\nscopes = [\"**\"]\nmode = \"allow\"\non_untrusted_running = \"stop\"\n"
	c, err := config.Parse("c.toml", []byte(fmt.Sprintf(base, "crio_socket = \"unix:///var/run/crio/crio.sock\"\n")))
	if err != nil || c.Daemon.Runtime.CRIOSocket != "/var/run/crio/crio.sock" || len(c.CRIORefusals()) != 0 {
		t.Fatalf("stop with crio_socket named: %v %+v", err, c)
	}
	if c, err := config.Parse("c.toml", []byte(fmt.Sprintf(base, ""))); err == nil || !strings.Contains(err.Error(), "crio_socket names none") {
		t.Errorf("stop with no crio_socket: %v %+v", err, c)
	}
	if _, err := config.Parse("c.toml", []byte(fmt.Sprintf(base, "crio_socket = \"crio.sock\"\n"))); err == nil || !strings.Contains(err.Error(), `daemon.runtime.crio_socket = "crio.sock"`) {
		t.Errorf("a relative crio_socket: %v", err)
	}
}
