package prove

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/setup"
)

// Two runs never build the same image: no verdict, signature or registry
// can know a probe's digest before it runs.
func TestProbeImageIsNewEachRun(t *testing.T) {
	now := time.Unix(1700000000, 0)
	a, err := buildImage("aaaa", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildImage("bbbb", now)
	if err != nil {
		t.Fatal(err)
	}
	if a.manifest.desc.Digest == b.manifest.desc.Digest || a.layer.desc.Digest == b.layer.desc.Digest {
		t.Fatal("two nonces built the same image")
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(a.manifest.data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != a.config.desc.Digest || len(m.Layers) != 1 || m.Layers[0].Digest != a.layer.desc.Digest {
		t.Fatalf("manifest %+v does not name its config and layer", m)
	}
	// The garbage collector follows these labels from the manifest.
	if a.manifest.labels["containerd.io/gc.ref.content.config"] != a.config.desc.Digest.String() ||
		a.manifest.labels["containerd.io/gc.ref.content.l.0"] != a.layer.desc.Digest.String() {
		t.Fatalf("gc labels %v", a.manifest.labels)
	}
}

// Only a refusal that is signgate's and names the probe's digest proves
// anything; NRI's validator naming the absent plugin is told apart.
func TestJudge(t *testing.T) {
	const d = "sha256:1111"
	for _, c := range []struct {
		err  error
		want Outcome
	}{
		{nil, Created},
		{errors.New(`rpc error: code = Unknown desc = failed to create containerd container: failed to get NRI adjustment for container: rpc error: code = Unknown desc = signgate denied image x:1 (x@sha256:1111): no policy matches x`), Proven},
		{errors.New(`signgate denied image x:1 (x@sha256:2222): no policy matches x`), RefusedOther}, // another image's refusal
		{errors.New(`failed to create containerd container: validation error: required plugin "signgate" not present`), PluginAbsent},
		{errors.New(`validation error: required plugins "other,signgate" not present`), PluginAbsent},
		{errors.New(`signgate: CreateContainer for abc arrived after containerd stopped waiting (context deadline exceeded)`), RefusedOther},
		{errors.New(`failed to create containerd container: error unpacking image`), RefusedOther},
	} {
		if got := judge(c.err, d, "signgate"); got != c.want {
			t.Errorf("judge(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

func TestExplainNamesThePolicyOrItsAbsence(t *testing.T) {
	r := &Result{Outcome: Proven, Image: "r/x:1"}
	if s := explain(r); !strings.Contains(s, "no policy matches it, and unmatched images are denied") {
		t.Errorf("unmatched: %s", s)
	}
	r.Policy, r.Mode = "apps", "enforce"
	if s := explain(r); !strings.Contains(s, `it falls under policy "apps" (mode enforce)`) {
		t.Errorf("matched: %s", s)
	}
	r.Outcome, r.Mode = Created, "audit"
	if s := explain(r); !strings.HasPrefix(s, "NOT ENFORCING") || !strings.Contains(s, `policy "apps" is mode audit`) {
		t.Errorf("created under audit: %s", s)
	}
}

func TestParseSettings(t *testing.T) {
	for _, c := range []struct {
		keys  config.ProveKeys
		want  string // error part; "" for none
		every time.Duration
	}{
		{config.ProveKeys{}, "", 0},
		{config.ProveKeys{Interval: "0"}, "", 0},
		{config.ProveKeys{Interval: "15m"}, "", 15 * time.Minute},
		{config.ProveKeys{Interval: "10s"}, `/etc/s.toml: daemon.prove_interval = "10s": give a duration of at least 1m0s`, 0},
		{config.ProveKeys{Interval: "often"}, `daemon.prove_interval = "often"`, 0},
		{config.ProveKeys{Image: "r.example/apps/probe:v1"}, `daemon.prove_image = "r.example/apps/probe:v1": a repository without tag or digest`, 0},
	} {
		s, err := ParseSettings(&setup.Config{Config: &config.Config{Path: "/etc/s.toml", Daemon: config.Daemon{Prove: c.keys}}})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.keys, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.keys, err, c.want)
		case c.want == "" && (s.Interval != c.every || s.Image == ""):
			t.Errorf("%+v: %+v", c.keys, s)
		}
	}
}
