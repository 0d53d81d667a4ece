package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func shipped(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "packaging", "containerd", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The drop-in signgate ships, imported by a 2.x config, makes every
// guarantee hold on 2.4 with the verifier installed; on older versions the
// findings say what the version lacks.
func TestShippedDropIn(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "conf.d/signgate.toml", shipped(t, "signgate.toml"))
	verifiers := filepath.Join(dir, "verifiers")
	write(t, verifiers, "signgate", "")
	main := write(t, dir, "config.toml", `version = 3
imports = ["conf.d/*.toml"]
[plugins.'io.containerd.nri.v1.nri']
  socket_path = "/run/nri/nri.sock"
[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = "`+verifiers+`"
`)
	c, err := ReadContainerd(main)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Validator || len(c.RequiredPlugins) != 1 || c.RequiredPlugins[0] != "signgate" || c.NRIRequestTimeout != 2*time.Second || len(c.Files) != 2 {
		t.Fatalf("read %+v", c)
	}
	holds := func(version string) map[string]Finding {
		m := map[string]Finding{}
		for _, f := range Check(Node{Version: version, Config: c, Deadline: 1500 * time.Millisecond, Plugin: "signgate"}) {
			m[strings.SplitN(f.Guarantee, ":", 2)[0]] = f
		}
		return m
	}
	for _, f := range holds("v2.4.2") {
		if !f.Holds {
			t.Errorf("2.4.2: %s: %s", f.Guarantee, f.Detail)
		}
	}
	h := holds("2.2.9+unknown")
	if f := h["containerd itself reports each container's image digest"]; f.Holds {
		t.Errorf("2.2 reports Container.Image?")
	}
	if f := h["fails closed"]; !f.Holds {
		t.Errorf("2.2: %s", f.Detail)
	}
	h = holds("2.1.9")
	if f := h["fails closed"]; f.Holds || !strings.Contains(f.Detail, "has no NRI validator") {
		t.Errorf("2.1 fails closed? %+v", f)
	}
	if f := h["pull-time gate"]; !f.Holds {
		t.Errorf("2.1 pull gate: %+v", f)
	}
	if f := holds("2.0.14")["pull-time gate"]; f.Holds {
		t.Errorf("2.0 pull gate? %+v", f)
	}
}

// containerd 1.x: NRI is off unless turned on, and an import replaces a
// plugin's whole table.
func TestContainerd17(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "config.toml", `version = 2
[plugins."io.containerd.nri.v1.nri"]
  socket_path = "/run/nri/nri.sock"
`)
	c, err := ReadContainerd(main)
	if err != nil {
		t.Fatal(err)
	}
	f := Check(Node{Version: "1.7.35", Config: c, Deadline: time.Second, Plugin: "signgate"})[0]
	if f.Holds || !strings.Contains(f.Detail, "ships NRI turned off") {
		t.Fatalf("NRI off by default on 1.7: %+v", f)
	}
	write(t, dir, "conf.d/signgate.toml", shipped(t, "signgate-1.7.toml"))
	write(t, dir, "config.toml", "version = 2\nimports = [\"conf.d/*.toml\"]\n[plugins.\"io.containerd.nri.v1.nri\"]\n  disable = true\n  socket_path = \"/x\"\n")
	if c, err = ReadContainerd(main); err != nil {
		t.Fatal(err)
	}
	if c.NRIDisable == nil || *c.NRIDisable || c.NRIRequestTimeout != 2*time.Second {
		t.Fatalf("the 1.7 drop-in did not replace the table: %+v", c)
	}
	// The same files read as 2.x merge instead.
	write(t, dir, "config.toml", "version = 3\nimports = [\"conf.d/*.toml\"]\n[plugins.'io.containerd.nri.v1.nri']\n  plugin_request_timeout = \"9s\"\n  [plugins.'io.containerd.nri.v1.nri'.default_validator]\n    tolerate_missing_plugins_annotation = \"skip\"\n")
	write(t, dir, "conf.d/signgate.toml", shipped(t, "signgate.toml"))
	if c, err = ReadContainerd(main); err != nil {
		t.Fatal(err)
	}
	if c.TolerateAnnotation != "skip" || !c.Validator || c.NRIRequestTimeout != 2*time.Second {
		t.Fatalf("2.x merge: %+v", c)
	}
	for _, f := range Check(Node{Version: "2.2.9", Config: c, Deadline: time.Second, Plugin: "signgate"}) {
		if strings.HasPrefix(f.Guarantee, "no pod can opt out") && (f.Holds || !strings.Contains(f.Detail, `"skip"`)) {
			t.Errorf("the opt-out annotation went unnoticed: %+v", f)
		}
	}
}

func TestBadConfigIsNamed(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "config.toml", "version = 3\nimports = [\"bad.toml\"]\n")
	write(t, dir, "bad.toml", "[plugins\n")
	if _, err := ReadContainerd(main); err == nil || !strings.Contains(err.Error(), "bad.toml") {
		t.Fatalf("%v", err)
	}
}

// A bad value names the files it may have come from.
func TestBadTimeoutNamesTheFiles(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "config.toml", "version = 3\nimports = [\"conf.d/*.toml\"]\n")
	write(t, dir, "conf.d/x.toml", "version = 3\n[plugins.'io.containerd.nri.v1.nri']\n  plugin_request_timeout = \"soon\"\n")
	_, err := ReadContainerd(main)
	if err == nil || !strings.Contains(err.Error(), "conf.d/x.toml") || !strings.Contains(err.Error(), "plugin_request_timeout") {
		t.Fatalf("%v", err)
	}
}

func TestParseRelease(t *testing.T) {
	for in, want := range map[string]string{"2.1.9": "2.1", "v2.4.2": "2.4", "2.2.9+unknown": "2.2", "containerd github.com/containerd/containerd 1.7.35+unknown": "1.7"} {
		r, err := ParseRelease(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %v", in, r, err)
		}
	}
	if _, err := ParseRelease("devel"); err == nil {
		t.Error("devel parsed")
	}
}

// doctor says whether each trust root kept from TUF is current, and when a
// frozen or unreachable mirror has let it go stale, how stale.
func TestTrustRootStalenessFinding(t *testing.T) {
	verified := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tr := TrustRoot{Name: "public-good", Mirror: "https://tuf.example", Loaded: true, Verified: verified, NotAfter: verified.Add(72 * time.Hour), Limit: "trust_roots.public-good.max_staleness 72h0m0s"}
	find := func(n Node) Finding {
		t.Helper()
		for _, f := range Check(n) {
			if strings.Contains(f.Guarantee, `trust root "public-good"`) {
				return f
			}
		}
		t.Fatal("no finding for the trust root")
		return Finding{}
	}
	n := Node{Version: "2.2.1", Plugin: "signgate", Deadline: time.Second, TrustRoots: []TrustRoot{tr}, Now: verified.Add(time.Hour)}
	if f := find(n); !f.Holds || f.Optional || !strings.Contains(f.Detail, "2026-12-04T12:00:00Z") {
		t.Fatalf("fresh: %+v", f)
	}
	n.Now = verified.Add(80 * time.Hour)
	if f := find(n); f.Holds || !strings.Contains(f.Detail, "stale") || !strings.Contains(f.Detail, "80h0m0s ago") || !strings.Contains(f.Detail, "max_staleness 72h0m0s") {
		t.Fatalf("stale: %+v", f)
	}
	n.TrustRoots[0].Loaded = false
	if f := find(n); f.Holds || !strings.Contains(f.Detail, "verify nothing") {
		t.Fatalf("not loaded: %+v", f)
	}
}

// The DaemonSet drop-in's bootstrap annotation is how signgate's own pod
// starts on a node that requires it: doctor says what keeps it safe, and
// does not fail a correctly installed DaemonSet node over it. Any other
// opt-out still fails.
func TestBootstrapOptOutIsTheDaemonSets(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "config.toml", "version = 3\nimports = [\"conf.d/*.toml\"]\n")
	b, err := os.ReadFile(filepath.Join("..", "packaging", "kubernetes", "containerd-daemonset.toml"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "conf.d/signgate.toml", string(b))
	c, err := ReadContainerd(main)
	if err != nil {
		t.Fatal(err)
	}
	if c.TolerateAnnotation != "signgate.dev/bootstrap" {
		t.Fatalf("the DaemonSet drop-in names %q", c.TolerateAnnotation)
	}
	for _, f := range Check(Node{Version: "2.2.9", Config: c, Deadline: time.Second, Plugin: "signgate"}) {
		if strings.HasPrefix(f.Guarantee, "no pod can opt out") && (!f.Holds || !strings.Contains(f.Detail, "ValidatingAdmissionPolicy")) {
			t.Errorf("a DaemonSet node's bootstrap annotation: %+v", f)
		}
	}
}
