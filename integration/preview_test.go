package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// signgate preview decides the node's images (from containerd) or a list
// of images under a new config, and with --compare lists only the images
// whose decision or policy changes.
func TestPreviewCommand(t *testing.T) {
	e := need(t)
	signed := e.image("preview/signed", "k1")
	unsigned := e.image("preview/unsigned")
	for _, ref := range []string{e.Registry + "/preview/signed:v1", e.Registry + "/preview/unsigned:v1"} {
		if err := e.Pull(ref); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(e.Dir, "signgate.toml")
	b, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	// The new config: the catch-all policy now trusts k2 alone.
	old := "name = \"apps\"\nscopes = [\"" + e.Registry + "/**\", \"" + e.Referrers + "/**\"]\n  [policy.cosign]\n  keys = [\"k1\", \"cli\"]"
	if !strings.Contains(string(b), old) {
		t.Fatalf("the harness config changed; update this test:\n%s", b)
	}
	next := filepath.Join(t.TempDir(), "next.toml")
	if err := os.WriteFile(next, []byte(strings.Replace(string(b), old, strings.Replace(old, `["k1", "cli"]`, `["k2"]`, 1), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		return runSigngate(t, e.Bin, append([]string{"preview", "--config", next}, args...)...)
	}
	type row struct {
		Image   string `json:"image"`
		Digest  string `json:"digest"`
		Changed bool   `json:"changed"`
		New     struct {
			Allowed bool   `json:"allowed"`
			Policy  string `json:"policy"`
			Cause   string `json:"cause"`
			Reason  string `json:"reason"`
		} `json:"new"`
		Current *struct {
			Allowed bool `json:"allowed"`
		} `json:"current"`
	}
	var got struct {
		Schema string `json:"schema"`
		Images []row  `json:"images"`
	}

	// The node's images: the signed one goes from allowed to denied; the
	// unsigned one, denied either way, is not listed.
	out, code := run("--node", "--compare", current, "--output", "json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var found bool
	for _, r := range got.Images {
		if r.Digest == unsigned.DigestStr() {
			t.Errorf("listed an image whose decision does not change: %+v", r)
		}
		if r.Digest == signed.DigestStr() {
			found = true
			if !r.Changed || r.New.Allowed || r.Current == nil || !r.Current.Allowed || r.New.Policy != "apps" || !strings.Contains(r.New.Reason, "not by k2") {
				t.Errorf("signed image: %+v", r)
			}
		}
	}
	if code != 1 || !found || got.Schema != "signgate.dev/preview/v1" {
		t.Fatalf("exit %d, signed image listed: %v\n%s", code, found, out)
	}

	// A list, with a tag that does not exist.
	list := filepath.Join(t.TempDir(), "images.txt")
	if err := os.WriteFile(list, []byte("# rollout check\n"+e.Registry+"/preview/signed:v1\n\n"+e.Registry+"/preview/signed:nosuchtag\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = run("--images", list)
	t.Logf("list:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 || !strings.HasPrefix(lines[1], "deny") || !strings.Contains(lines[1], "apps") ||
		!strings.Contains(lines[2], "image_unknown") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Under the config in force, the signed image is allowed (the missing tag
	// still denies).
	out, code = run("--images", list, "--compare", current)
	t.Logf("compare:\n%s", out)
	if code != 1 || !strings.Contains(out, "allow (apps)") || !strings.Contains(out, "deny (apps)") || strings.Contains(out, "nosuchtag") {
		t.Fatalf("compare: exit %d\n%s", code, out)
	}
	if out, code := runSigngate(t, e.Bin, "preview", "--config", current, "--images", list); code != 1 || !strings.Contains(out, "allow") {
		t.Fatalf("the current config: exit %d\n%s", code, out)
	}
}

// runSigngate runs the signgate CLI and returns its standard output and
// exit code.
func runSigngate(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "signgate"), args...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}
