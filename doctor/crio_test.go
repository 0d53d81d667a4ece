package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func find(t *testing.T, fs []Finding, g string) Finding {
	t.Helper()
	for _, f := range fs {
		if strings.HasPrefix(f.Guarantee, g) {
			return f
		}
	}
	t.Fatalf("no finding %q in %+v", g, fs)
	return Finding{}
}

const dropIn = "[crio.nri.default_validator]\nnri_enable_default_validator = true\nnri_validator_required_plugins = [\"signgate\"]\n"

// connected is signgate's /readyz on a node running CRI-O version.
func connected(version string) *Running {
	return &Running{Where: "api socket", Answered: true, Ready: true, Detail: "ok; " + RuntimeNote("cri-o", version)}
}

func checkCRIOFiles(t *testing.T, files map[string]string, running *Running) []Finding {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	c, err := ReadCRIO(filepath.Join(dir, "crio.conf"), filepath.Join(dir, "crio.conf.d"))
	if err != nil {
		t.Fatal(err)
	}
	// As if CRI-O's running config (GET /config) were what its files say.
	onDisk := *c
	c.Running = true
	return Check(Node{Runtime: "crio", CRIO: c, CRIOFiles: &onDisk, Deadline: time.Second, Plugin: "signgate", CRIOStorageReadable: true, Running: running})
}

// CRI-O reads crio.conf, then every file under crio.conf.d (whatever its
// name, subdirectories included) in lexical order, a later one replacing
// a key (a list whole): doctor reads them so, and names the file that set
// each key it reports.
func TestReadCRIOMergesAsCRIODoes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"crio.conf":                     "[crio.nri]\nenable_nri = false\nnri_plugin_request_timeout = \"5s\"\n[crio.nri.default_validator]\nnri_validator_required_plugins = [\"a\", \"b\"]\n",
		"crio.conf.d/10-signgate.conf":  dropIn,
		"crio.conf.d/20-nri":            "[crio.nri]\nenable_nri = true\n",                                              // no .conf: CRI-O reads it
		"crio.conf.d/15-sub/99-x.conf":  "[crio.nri.default_validator]\nnri_validator_required_plugins = [\"other\"]\n", // walked at 15-sub's place
		"crio.conf.d/30-off.toml":       "[crio.nri.default_validator]\nnri_enable_default_validator = false\n",
		"crio.conf.d/40-tolerate.conf~": "[crio.nri.default_validator]\nnri_validator_tolerate_missing_plugins_annotation = \"x\"\n",
	})
	d := filepath.Join(dir, "crio.conf.d")
	c, err := ReadCRIO(filepath.Join(dir, "crio.conf"), d)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "crio.conf"), filepath.Join(d, "10-signgate.conf"), filepath.Join(d, "15-sub", "99-x.conf"),
		filepath.Join(d, "20-nri"), filepath.Join(d, "30-off.toml"), filepath.Join(d, "40-tolerate.conf~")}
	if strings.Join(c.Files, "\n") != strings.Join(want, "\n") {
		t.Errorf("files in CRI-O's order:\n%s\nwant\n%s", strings.Join(c.Files, "\n"), strings.Join(want, "\n"))
	}
	if c.NRIEnable == nil || !*c.NRIEnable || c.NRIRequestTimeout != 5*time.Second {
		t.Errorf("enable_nri %v, timeout %s", c.NRIEnable, c.NRIRequestTimeout)
	}
	if c.Validator || strings.Join(c.RequiredPlugins, ",") != "other" || c.TolerateAnnotation != "x" {
		t.Errorf("validator %v, required %q, tolerate %q", c.Validator, c.RequiredPlugins, c.TolerateAnnotation)
	}
	if c.Set[keyEnable] != filepath.Join(d, "30-off.toml") || c.Set[keyRequired] != filepath.Join(d, "15-sub", "99-x.conf") {
		t.Errorf("sources %v", c.Set)
	}
	// A file CRI-O cannot decode stops CRI-O: an error naming it.
	writeFiles(t, dir, map[string]string{"crio.conf.d/50-bad": "[crio.nri.default_validator]\nnri_enable_default_validator = \"yes\"\n"})
	if _, err := ReadCRIO(filepath.Join(dir, "crio.conf"), d); err == nil || !strings.Contains(err.Error(), "50-bad") || !strings.Contains(err.Error(), keyEnable) {
		t.Errorf("a string for a boolean: %v", err)
	}
	// A drop-in directory that is a symlink: CRI-O takes it for a file.
	link := filepath.Join(dir, "link.d")
	if err := os.Symlink(d, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCRIO(filepath.Join(dir, "crio.conf"), link); err == nil {
		t.Error("a symlinked drop-in directory was read; CRI-O fails on it")
	}
}

// Each answer doctor gives on a CRI-O node: the validator on or off, and
// requiring signgate or not; and what CRI-O does with a creation while
// signgate is absent or killed, and while it is wedged, on a CRI-O with
// NRI's validator, without one (1.33, the proxy's v1.34.0, which signgate
// reports refused), and one signgate cannot name (not running).
func TestCheckCRIO(t *testing.T) {
	base := map[string]string{"crio.conf": "[crio.nri]\nenable_nri = true\nnri_plugin_request_timeout = \"2s\"\n"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	type want struct {
		on, requires, absent, wedged bool
		detail                       map[string]string // finding -> text its detail has
	}
	for _, c := range []struct {
		name    string
		files   map[string]string
		running *Running
		want    want
	}{
		{"no drop-in, CRI-O 1.35", base, connected("1.35.2"), want{detail: map[string]string{
			"CRI-O's NRI default validator is on": "nri_enable_default_validator = false (set in no file: CRI-O's default): set it to true",
			"signgate absent or killed":           "CRI-O creates every container unchecked (fails open)",
			"signgate wedged":                     "creates the next ones unchecked"}}},
		{"validator on, signgate not required", with(map[string]string{"crio.conf.d/10-signgate.conf": "[crio.nri.default_validator]\nnri_enable_default_validator = true\n"}), connected("1.35.2"),
			want{on: true, detail: map[string]string{`CRI-O's default validator requires "signgate"`: `nri_validator_required_plugins = [] (set in no file: CRI-O's default): add "signgate"`}}},
		{"required, validator off", with(map[string]string{"crio.conf.d/10-signgate.conf": "[crio.nri.default_validator]\nnri_validator_required_plugins = [\"signgate\"]\n"}), connected("1.35.2"),
			want{detail: map[string]string{`CRI-O's default validator requires "signgate"`: "which counts only with the validator on"}}},
		{"drop-in, CRI-O 1.35", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn}), connected("1.35.2"), want{true, true, true, true, map[string]string{
			"CRI-O's NRI default validator is on":           "10-signgate.conf",
			"signgate absent or killed":                     `required plugin "signgate" not present`,
			"signgate wedged":                               "nri_plugin_request_timeout (2s)",
			"fails closed":                                  "CRI-O 1.35.2 has NRI's validator",
			`CRI-O's default validator requires "signgate"`: `nri_validator_required_plugins = ["signgate"] (in `}}},
		{"drop-in, CRI-O 1.33", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn}), connected("1.33.4"), want{on: true, requires: true, detail: map[string]string{
			"signgate absent or killed": "CRI-O 1.33.4 has no NRI validator",
			"signgate wedged":           "drops signgate and creates the container unchecked"}}},
		{"drop-in, the proxy's v1.34.0", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn}),
			&Running{Answered: true, Ready: true, Detail: "ok; " + RuntimeNote("cri-o", "1.34.0") + "; " + ValidatorRefused}, want{on: true, requires: true, detail: map[string]string{
				"signgate absent or killed": "refused its validator subscription",
				"fails closed":              "refused its validator subscription"}}},
		{"drop-in, signgate not running", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn}), &Running{Detail: "nothing answers"}, want{on: true, requires: true, detail: map[string]string{
			"signgate absent or killed": "unknown, so not holding: the config requires signgate, but signgate is not answering"}}},
		{"drop-in, NRI off", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn, "crio.conf.d/99-off.conf": "[Crio.Nri]\nENABLE_NRI = false\n"}), nil, want{on: true, requires: true, detail: map[string]string{
			"signgate absent or killed": "enable_nri = false", "fails closed": "enable_nri = false"}}},
		{"tolerate annotation", with(map[string]string{"crio.conf.d/10-signgate.conf": dropIn + "nri_validator_tolerate_missing_plugins_annotation = \"x\"\n"}), connected("1.35.2"),
			want{true, true, true, true, map[string]string{`CRI-O's default validator requires "signgate"`: "but not for a pod annotated x=true"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := checkCRIOFiles(t, c.files, c.running)
			for g, holds := range map[string]bool{"CRI-O's NRI default validator is on": c.want.on, `CRI-O's default validator requires "signgate"`: c.want.requires,
				"signgate absent or killed": c.want.absent, "signgate wedged": c.want.wedged, "fails closed": c.want.absent && c.want.wedged} {
				if f := find(t, fs, g); f.Holds != holds || f.Optional {
					t.Errorf("%s: holds %v, want %v: %s", g, f.Holds, holds, f.Detail)
				}
			}
			for g, text := range c.want.detail {
				if f := find(t, fs, g); !strings.Contains(f.Detail, text) {
					t.Errorf("%s: %q lacks %q", g, f.Detail, text)
				}
			}
			if f := find(t, fs, "no pod can opt out"); f.Holds != !strings.Contains(c.name, "tolerate") {
				t.Errorf("opt out: %+v", f)
			}
		})
	}
}

// doctor names the runtime signgate is connected to, as /readyz says NRI
// named it, and says when it is not the one whose records signgate reads.
func TestConnectedRuntimeFinding(t *testing.T) {
	for _, c := range []struct {
		runtime, seen   string
		holds, optional bool
		detail          string
	}{
		{"crio", "ok; " + RuntimeNote("cri-o", "1.35.2"), true, false, "cri-o 1.35.2, as NRI's Configure named it"},
		{"", "ok; " + RuntimeNote("containerd", "2.2.9"), true, false, "containerd 2.2.9"},
		{"crio", "ok; " + RuntimeNote("containerd", "2.2.9"), false, false, "NRI connected signgate to containerd 2.2.9, but it reads cri-o's records"},
		{"crio", "ok", false, true, "names no runtime"},
	} {
		f := connectedFinding(Node{Runtime: c.runtime, Running: &Running{Answered: true, Ready: true, Detail: c.seen}})
		if f.Holds != c.holds || f.Optional != c.optional || !strings.Contains(f.Detail, c.detail) {
			t.Errorf("%s, /readyz %q: %+v", c.runtime, c.seen, f)
		}
	}
}
