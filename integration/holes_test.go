package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
)

// The paths around the gate that issue 11 names, each closed and proven
// here through real containerd, runc and crictl.

// mustRun starts a created container and waits until it runs.
func (e *env) mustRun(id string) {
	e.t.Helper()
	if out, err := e.Crictl("start", id); err != nil {
		e.t.Fatalf("start: %v %s", err, out)
	}
	if err := harness.WaitFor(10*time.Second, func() error {
		out, err := e.Crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
		if err != nil || !strings.Contains(out, "CONTAINER_RUNNING") {
			return fmt.Errorf("state %q %v", out, err)
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// withConfig runs signgate with config changed by edit for the rest of the
// test, and restores the suite's config after it.
func (e *env) withConfig(edit func(string) string) {
	e.t.Helper()
	good := e.SigngateConfig()
	e.t.Cleanup(func() {
		if ok, err := e.ReloadSigngate(good); !ok || err != nil {
			e.t.Errorf("restoring the config: %v %v", ok, err)
		}
	})
	changed := edit(good)
	if changed == good {
		e.t.Fatal("the edit changed nothing")
	}
	if ok, err := e.ReloadSigngate(changed); !ok || err != nil {
		e.t.Fatalf("the edited config was not taken (ok=%v, err=%v)", ok, err)
	}
}

// Item 1: an image mounted as a CRI image volume is code the container can
// run (the mount is read-only, not noexec): it is verified like the root
// filesystem, bound to what is mounted.
func TestImageVolumes(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("signed/vol-root", "k1")
	root := e.Registry + "/signed/vol-root:v1"
	run := harness.WithCommand("/vol/bin/busybox", "sleep", "3600")
	if !e.Containerd.HasImageVolumes() {
		// containerd 2.0 and 1.7 have no image volumes: the creation fails
		// in containerd itself, so nothing unverified is ever mounted.
		e.image("unsigned/vol-old")
		_, err := e.Create(pod, cfg, root, harness.WithImageVolume("/vol", e.Registry+"/unsigned/vol-old:v1"), run)
		if err == nil {
			t.Fatalf("containerd %s created a container with an image volume", e.Containerd.Version)
		}
		return
	}

	t.Run("a signed image volume is mounted and its binary runs", func(t *testing.T) {
		e.image("signed/vol-ok", "k1")
		id, err := e.Create(pod, cfg, root, harness.WithImageVolume("/vol", e.Registry+"/signed/vol-ok:v1"), run)
		mustAllow(t, id, err)
		e.mustRun(id)
	})
	t.Run("an image volume a policy only audits runs its binary too", func(t *testing.T) {
		// What an unverified image volume could do before: exec from it.
		d := e.image("audit/vol")
		mark := e.logMark()
		id, err := e.Create(pod, cfg, root, harness.WithImageVolume("/vol", e.Registry+"/audit/vol:v1"), run)
		mustAllow(t, id, err)
		e.mustRun(id)
		if len(e.waitLogLines(mark, "decision=audit", d.DigestStr(), "audit: would deny: policy \\\"audit\\\"")) == 0 {
			t.Errorf("the audited volume's verdict was not logged:\n%s", e.logSince(mark))
		}
	})
	t.Run("an unsigned image volume is refused, naming it", func(t *testing.T) {
		d := e.image("unsigned/vol")
		_, err := e.Create(pod, cfg, root, harness.WithImageVolume("/vol", e.Registry+"/unsigned/vol:v1"), run)
		mustDeny(t, err, "signgate denied image "+e.Registry+"/unsigned/vol", d.DigestStr(), "mounted as the image volume at /vol", "no cosign signatures found")
	})
	// Issue 26 item 1: containerd appends image_sub_path to the volume's
	// directory without cleaning it; a newline in it escaped the pattern
	// signgate matched volumes by, and the unsigned binary ran.
	sub := "bin\nx"
	subImage := func(t *testing.T, repo string, keys ...string) (string, name.Digest) {
		ref := e.Registry + "/" + repo + ":v1"
		d, err := harness.PushWithDir(ref, sub)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := e.Signers[k].SignLegacy(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Pull(ref); err != nil {
			t.Fatal(err)
		}
		return ref, d
	}
	runSub := harness.WithCommand("/vol/busybox", "sleep", "3600")
	t.Run("a signed image volume mounted through a sub path runs its binary", func(t *testing.T) {
		ref, _ := subImage(t, "signed/vol-sub", "k1")
		id, err := e.Create(pod, cfg, root, harness.WithImageSubPath("/vol", ref, sub), runSub)
		mustAllow(t, id, err)
		if !e.Containerd.HasImageSubPath() {
			return // the whole image is mounted: there is no /vol/busybox to run
		}
		e.mustRun(id)
	})
	t.Run("an unsigned image volume mounted through a sub path with a newline is refused", func(t *testing.T) {
		ref, d := subImage(t, "unsigned/vol-sub")
		id, err := e.Create(pod, cfg, root, harness.WithImageSubPath("/vol", ref, sub), runSub)
		if err == nil {
			e.mustRun(id) // what an attacker gets: the unsigned busybox runs
			t.Fatalf("container %s runs /vol/busybox from the unsigned %s", id, d)
		}
		mustDeny(t, err, "signgate denied image "+e.Registry+"/unsigned/vol-sub", d.DigestStr(), "mounted as the image volume at /vol", "no cosign signatures found")
	})
	t.Run("one unsigned volume among signed ones is refused", func(t *testing.T) {
		e.image("unsigned/vol2")
		_, err := e.Create(pod, cfg, root,
			harness.WithImageVolume("/a", e.Registry+"/signed/vol-ok:v1"),
			harness.WithImageVolume("/b", e.Registry+"/unsigned/vol2:v1"), run)
		mustDeny(t, err, "unsigned/vol2", "image volume at /b")
	})
}

// Item 6: a container created before its key was dropped does not start
// after it; the start is refused with signgate's reason.
func TestStartRechecks(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("startcheck/app", "k1")
	id, err := e.Create(pod, cfg, e.Registry+"/startcheck/app:v1")
	mustAllow(t, id, err)
	kept, err := e.Create(pod, cfg, e.Registry+"/startcheck/app:v1")
	mustAllow(t, kept, err)
	e.mustRun(kept)

	// k1 is no longer trusted for "apps".
	e.withConfig(func(c string) string { return strings.Replace(c, `keys = ["k1", "cli"]`, `keys = ["cli"]`, 1) })
	out, err := e.Crictl("start", id)
	if err == nil {
		t.Fatalf("a container whose key is no longer trusted started: %s", out)
	}
	msg := strings.ReplaceAll(out+err.Error(), `\`, "")
	for _, want := range []string{"at start: signgate denied image " + e.Registry + "/startcheck/app:v1", "requires any of cli"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refused start does not say %q: %s", want, msg)
		}
	}
	// It never ran: ps leaves it out, and lists the one running.
	if e.psLists(id) || !e.psLists(kept) {
		t.Errorf("ps lists the refused container (%v) or not the running one (%v)", e.psLists(id), e.psLists(kept))
	}
}

// Items 2 and 3: configs that would count one signature twice, or count a
// signature whose signer was not established, are refused by check-config
// and by a reload, naming what is wrong; the config in force stays.
func TestConfigsThatWouldMiscount(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("miscount/app", "k1")
	k1 := filepath.Join(e.Dir, "keys", "k1.pub")
	for _, c := range []struct {
		name, add, want string
	}{
		{"one key under two names", fmt.Sprintf("[keys.k1again]\npath = %q\n[[policy]]\nname = \"twice\"\nscopes = [\"x.example/*\"]\n  [policy.cosign]\n  keys = [\"k1\", \"k1again\"]\n  require = \"all\"\n", k1),
			`keys \"k1\" and \"k1again\" hold the same key`},
		{"notation audit level", "[[policy]]\nname = \"lenient\"\nscopes = [\"x.example/*\"]\n  [policy.notation]\n  certs = [\"n1\"]\n  level = \"audit\"\n",
			`notation.level = \"audit\": it does not establish who signed the image`},
	} {
		t.Run(c.name, func(t *testing.T) {
			good := e.SigngateConfig()
			bad := strings.Replace(good, "[[policy]]", c.add+"\n[[policy]]", 1)
			if !strings.Contains(bad, c.add) {
				t.Fatal("edit failed")
			}
			mark := e.logMark()
			if ok, err := e.ReloadSigngate(bad); ok || err != nil {
				t.Fatalf("reload taken (ok=%v, err=%v)", ok, err)
			}
			if !strings.Contains(e.logSince(mark), c.want) {
				t.Errorf("the refused reload does not say %s", c.want)
			}
			out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "check-config", "--config", filepath.Join(e.Dir, "signgate.toml")).CombinedOutput()
			if err == nil || !strings.Contains(string(out), strings.ReplaceAll(c.want, `\"`, `"`)) {
				t.Errorf("check-config: %v\n%s", err, out)
			}
			if ok, err := e.ReloadSigngate(good); !ok || err != nil {
				t.Fatalf("restoring: %v %v", ok, err)
			}
		})
	}
	id, err := e.Create(pod, cfg, e.Registry+"/miscount/app:v1")
	mustAllow(t, id, err)
}

// Item 8: a registry that redirects to itself is refused at once, naming
// the loop, instead of looping for the whole verification timeout.
func TestRedirectLoopIsRefused(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	// Before the pull, so no verification made ahead of the create (the
	// pull-time pre-verification) gets through either.
	e.Proxy.Loop("loop/app")
	t.Cleanup(func() { e.Proxy.Loop("") })
	e.image("loop/app", "k1")
	_, err := e.Create(pod, cfg, e.Registry+"/loop/app:v1")
	mustDeny(t, err, "loop/app", "more than 5 redirects")
	// Each request signgate starts may follow 5 redirects; the sixth
	// answer ends it. No chain goes deeper, and the verification gives up
	// instead of starting chain after chain.
	hops, looped, chains := e.Proxy.LoopHops.Load(), e.Proxy.Looped.Load(), e.Proxy.LoopChains.Load()
	t.Logf("%d requests for loop/app entered the loop, answered %d redirects; the longest chain followed %d", chains, looped, hops)
	if hops < 1 || hops > 5 {
		t.Fatalf("the longest redirect chain signgate followed was %d redirects; the limit is 5", hops)
	}
	if looped > 6*chains || chains > 8 {
		t.Fatalf("signgate was redirected %d times over %d chains", looped, chains)
	}
}

// Item 5: the pod sandbox image never reaches CreateContainer; it is
// verified at RunPodSandbox, whose error fails the sandbox.
func TestSandboxImageIsVerified(t *testing.T) {
	e := need(t)
	// The suite allows its pause image by name; here "apps" governs it.
	e.withConfig(func(c string) string {
		return strings.Replace(c, fmt.Sprintf("scopes = [\"%s/pause\"]\nmode = \"allow\"", e.Registry), "scopes = [\"nothing.example/pause\"]\nmode = \"allow\"", 1)
	})
	_, _, err := e.Pod("default")
	mustDeny(t, err, "pod sandbox: signgate denied image "+e.Registry+"/pause:1.0", `policy "apps"`, "no cosign signatures found")

	if _, err := e.SignPause(); err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitFor(5*time.Second, func() error {
		_, _, err := e.Pod("default")
		return err
	}); err != nil {
		t.Fatalf("a pod whose sandbox image is signed: %v", err)
	}
}

// Item 10: one image ID known under two names, an index signed in one
// repository and its plain manifest unsigned in another. A container
// created by the ID gets the same verdict whichever was pulled last
// (before, CRI's ID record followed the last pull, and so did the verdict).
func TestImageIDVerdictDoesNotDependOnPullOrder(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	m, err := harness.PushBusybox(e.Registry+"/pullorder/a:manifest", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := harness.PushIndexOf(e.Registry+"/pullorder/a:v1", m)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Signers["k1"].SignLegacy(idx); err != nil {
		t.Fatal(err)
	}
	if err := harness.CopyImage(m, e.Registry+"/pullorder/b:v1"); err != nil {
		t.Fatal(err)
	}
	a, b := e.Registry+"/pullorder/a:v1", e.Registry+"/pullorder/b:v1"
	for _, order := range [][]string{{a, b}, {b, a}} {
		t.Run("last pulled "+order[1][len(e.Registry)+1:], func(t *testing.T) {
			for _, ref := range order {
				if err := e.Pull(ref); err != nil {
					t.Fatal(err)
				}
			}
			id, err := e.Crictl("inspecti", "-o", "go-template", "--template", "{{.status.id}}", a)
			if err != nil {
				t.Fatalf("inspecti: %v %s", err, id)
			}
			id = strings.TrimSpace(id)
			ctr, err := e.Create(pod, cfg, id, harness.WithUserSpecifiedImage(id))
			mustAllow(t, ctr, err)
			if out, err := e.Crictl("rm", ctr); err != nil {
				t.Fatalf("rm: %v %s", err, out)
			}
			if out, err := e.Crictl("rmi", id); err != nil {
				t.Fatalf("rmi: %v %s", err, out)
			}
		})
	}
}
