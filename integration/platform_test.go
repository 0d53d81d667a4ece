package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 28 item 5: images signed per platform (`cosign sign --recursive`,
// CI signing each platform's build) carry the signature on the platform
// manifest that runs, not on the index containerd records. The real cosign
// CLI signs one manifest of a two-platform index (this node's and
// another's); containerd pulls and runs this node's.
func TestPerPlatformSignatures(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	// run pushes a two-platform index to ref, has the real cosign CLI sign
	// the manifest which picks, pulls it and creates a container of it.
	run := func(e *env, ref, which string, bundle bool) (harness.Platforms, string, error) {
		e.t.Helper()
		p, err := harness.PushPlatforms(ref, "sleep", "3600")
		if err != nil {
			e.t.Fatal(err)
		}
		if which != "" {
			e.signCLI(map[string]name.Digest{"index": p.Index, "mine": p.Mine, "other": p.Other}[which], bundle)
		}
		if err := e.Pull(ref); err != nil {
			e.t.Fatal(err)
		}
		id, err := e.Create(podID, podCfg, ref)
		return p, id, err
	}
	for _, reg := range []struct{ name, host string }{{"distribution", e.Registry}, {"referrers-api", e.Referrers}} {
		t.Run(reg.name, func(t *testing.T) {
			e := &env{Env: e.Env, t: t}
			bundle := reg.host == e.Referrers

			// Only the platform manifest that runs is signed: allowed
			// (policy apps: signed_manifest defaults to either), and the
			// container and the log say which manifest verified.
			mark := e.logMark()
			p, id, err := run(e, reg.host+"/perplatform/mine:v1", "mine", bundle)
			mustAllow(t, id, err)
			// The record of what verified the container is the decision log.
			if line := decisionFor(t, e.Env, id); !strings.Contains(line, "digest="+p.Index.DigestStr()) || !strings.Contains(line, "verified_manifest="+p.Mine.DigestStr()) {
				t.Errorf("decision %s; want the index as the digest and %s as the verified manifest", line, p.Mine.DigestStr())
			}
			if len(e.waitLogLines(mark, "decision=allow", "verified_manifest="+p.Mine.DigestStr(), "platform="+p.Mine.DigestStr())) == 0 {
				t.Errorf("no decision line names the verified platform manifest:\n%s", e.logSince(mark))
			}

			// signgate verify answers as the node did, and as a node of
			// the other platform would; preview judges it as the node does.
			cfg := filepath.Join(e.Dir, "signgate.toml")
			for _, c := range []struct {
				platform string
				code     int
				runs     name.Digest
			}{{"linux/" + runtime.GOARCH, 0, p.Mine}, {"linux/" + harness.OtherArch(), 1, p.Other}} {
				out, code := runSigngate(t, e.Bin, "verify", "--config", cfg, "--platform", c.platform, "--output", "json", reg.host+"/perplatform/mine:v1")
				var v struct {
					Allowed            bool
					Platform, Manifest string
				}
				if err := json.Unmarshal([]byte(out), &v); err != nil || code != c.code || v.Platform != c.runs.DigestStr() {
					t.Errorf("signgate verify --platform %s: exit %d, %+v (%v); want exit %d for %s", c.platform, code, v, err, c.code, c.runs.DigestStr())
				}
			}
			list := filepath.Join(t.TempDir(), "images.txt")
			if err := os.WriteFile(list, []byte(reg.host+"/perplatform/mine:v1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, from := range [][]string{{"--node"}, {"--images", list}} {
				out, _ := runSigngate(t, e.Bin, append([]string{"preview", "--config", cfg, "--output", "json"}, from...)...)
				var got struct {
					Images []struct {
						Digest string
						New    struct{ Allowed bool }
					}
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("preview %v: %v\n%s", from, err, out)
				}
				allowed := false
				for _, r := range got.Images {
					allowed = allowed || (r.Digest == p.Index.DigestStr() && r.New.Allowed)
				}
				if !allowed {
					t.Errorf("preview %v does not allow %s, signed on the platform manifest this node runs:\n%s", from, p.Index, out)
				}
			}

			// Only the other platform's manifest is signed: it never
			// counts for the one that runs.
			p, _, err = run(e, reg.host+"/perplatform/other:v1", "other", bundle)
			mustDeny(t, err, p.Index.DigestStr(), "no cosign signatures found", "on the platform manifest "+p.Mine.DigestStr())
		})
	}

	// signed_manifest, setting by setting, on olareg.
	for _, c := range []struct {
		policy, signed string
		allowed        bool
	}{
		{"index", "index", true},
		{"index", "mine", false},
		{"platform", "mine", true},
		{"platform", "index", false},
		{"platform", "other", false},
		{"either", "index", true},
	} {
		t.Run(c.policy+"/signed-"+c.signed, func(t *testing.T) {
			e := &env{Env: e.Env, t: t}
			repo := "signedon/" + c.policy + "/" + c.signed
			if c.policy == "either" {
				repo = "perplatform/either-" + c.signed // policy apps
			}
			p, id, err := run(e, e.Referrers+"/"+repo+":v1", c.signed, true)
			if !c.allowed {
				mustDeny(t, err, p.Index.DigestStr(), "no cosign signatures found")
				return
			}
			mustAllow(t, id, err)
			want := map[string]name.Digest{"index": p.Index, "mine": p.Mine}[c.signed]
			if line := decisionFor(t, e.Env, id); !strings.Contains(line, "verified_manifest="+want.DigestStr()) {
				t.Errorf("decision %s; want verified manifest %s", line, want.DigestStr())
			}
		})
	}
}

// Before any container: the verification started by the pull decides the
// platform manifest pulled, so the creation reuses it; and the pull gate
// counts the manifest containerd pulls for this host, never another's.
func TestPerPlatformSignaturesAtPull(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	ref := e.Referrers + "/perplatform/preverified:v1"
	p, err := harness.PushPlatforms(ref, "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	e.signCLI(p.Mine, true)
	mark := e.logMark()
	if err := e.Pull(ref); err != nil {
		t.Fatal(err)
	}
	if len(e.waitLogLines(mark, `msg="verification finished"`, p.Index.DigestStr(), "verified=true")) == 0 {
		t.Fatalf("the pull did not verify %s on its platform manifest:\n%s", p.Index, e.logSince(mark))
	}
	id, err := e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	if lines := e.waitLogLines(mark, "signgate allow", "perplatform/preverified:v1"); len(lines) == 0 || !strings.Contains(lines[0], "cached=true") {
		t.Fatalf("the creation did not reuse the verdict of the pull: %q", lines)
	}

	if !e.Containerd.HasPullGate() {
		return // before 2.1 CRI pulls bypass the image verifiers
	}
	if err := e.PullGate(true); err != nil {
		t.Fatal(err)
	}
	defer e.PullGate(false)
	for _, c := range []struct {
		signed string
		pulls  bool
	}{{"mine", true}, {"other", false}} {
		ref := e.Referrers + "/perplatform/pullgate-" + c.signed + ":v1"
		p, err := harness.PushPlatforms(ref, "sleep", "3600")
		if err != nil {
			t.Fatal(err)
		}
		e.signCLI(map[string]name.Digest{"mine": p.Mine, "other": p.Other}[c.signed], true)
		out, err := e.Crictl("pull", ref)
		switch {
		case c.pulls && err != nil:
			t.Errorf("signed on this host's platform manifest, the pull was refused: %v: %s", err, out)
		case !c.pulls:
			mustDeny(t, fmt.Errorf("%s", out), "verifier signgate rejected image", p.Index.DigestStr(), "no cosign signatures found")
		}
	}
}
