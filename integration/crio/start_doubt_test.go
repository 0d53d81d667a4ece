package crio

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/localapi"
)

// tamperRecord edits CRI-O's containers/storage record of container id
// where signgate reads it (crio.Storage.container: containers.json or
// volatile-containers.json under the root or run root); edit returns false
// to remove the record. Only the file changes: CRI-O keeps its records in
// memory and reloads them only when its lock file says another writer
// wrote, so CRI-O itself still starts the container it created, and its
// next write of the file (removing the container) puts the truth back.
func tamperRecord(t *testing.T, e *harness.Env, id string, edit func(rec map[string]any) bool) {
	t.Helper()
	root, run := e.CRIOStorage()
	for _, p := range []string{
		filepath.Join(root, "overlay-containers", "containers.json"),
		filepath.Join(root, "overlay-containers", "volatile-containers.json"),
		filepath.Join(run, "overlay-containers", "volatile-containers.json"),
	} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) || (err == nil && len(b) == 0) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, r := range recs {
			if r["id"] != id {
				continue
			}
			if !edit(r) {
				recs = append(recs[:i], recs[i+1:]...)
			}
			out, err := json.Marshal(recs)
			if err != nil {
				t.Fatal(err)
			}
			// Written whole and renamed into place, as containers/storage does.
			tmp := p + ".signgate-test"
			if err := os.WriteFile(tmp, out, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
			t.Logf("container %s's record edited in %s", id, p)
			return
		}
	}
	t.Fatalf("no record of container %s in CRI-O's storage under %s or %s", id, root, run)
}

// TestCRIOStartRefusedOnDoubtIsStopped: a container created from a signed
// image (allowed at creation) whose CRI-O storage record, read again at
// StartContainer, no longer shows it built from that image (the record
// names another image, or is gone) is refused at start on that doubt;
// CRI-O starts it all the same (TestCRIOStartRefusalIsIgnored), and
// signgate keeps the doubt as its verdict: `signgate ps` lists it
// untrusted with the doubt's cause, and on_untrusted_running = "stop"
// (with crio_socket) stops it through CRI-O's CRI. A container of the same
// image whose record is untouched starts and keeps running.
func TestCRIOStartRefusedOnDoubtIsStopped(t *testing.T) {
	e := need(t)
	good := e.SigngateConfig()
	t.Cleanup(func() {
		if err := e.RestartSigngate(good); err != nil {
			t.Errorf("restoring the config: %v", err)
		}
	})
	p := fmt.Sprintf("[[policy]]\nname = \"startdoubt\"\nscopes = [\"%s/startdoubt/*\"]\non_untrusted_running = \"stop\"\nstop_confirm = \"5s\"\n  [policy.cosign]\n  keys = [\"k1\"]\n\n", e.Registry)
	cfg := strings.Replace(good, "[[policy]]\nname = \"apps\"", p+"[[policy]]\nname = \"apps\"", 1)
	cfg = strings.Replace(cfg, "[daemon.runtime]\nname = \"crio\"\n", fmt.Sprintf("[daemon.runtime]\nname = \"crio\"\ncrio_socket = %q\n", e.ContainerdSock), 1)
	if !strings.Contains(cfg, `name = "startdoubt"`) || !strings.Contains(cfg, "crio_socket") {
		t.Fatalf("the suite's config has no CRI-O runtime or apps policy to extend:\n%s", good)
	}
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatalf("signgate with a stop policy and crio_socket on CRI-O: %v\n%s", err, e.SigngateLog.String())
	}
	podID, podCfg := pod(t, e)
	ref := e.Registry + "/startdoubt/app:v1"
	d := image(t, e, "startdoubt/app", "k1")
	image(t, e, "startdoubt/other") // unsigned: the image a tampered record names
	other := strings.TrimPrefix(imageID(t, e, e.Registry+"/startdoubt/other:v1"), "sha256:")

	// Every container is created before any record is tampered with:
	// CRI-O's next write of its container records (a creation) would put
	// the truth back.
	control, err := e.Create(podID, podCfg, ref)
	if err != nil {
		t.Fatalf("signed image refused: %v", err)
	}
	cases := []struct {
		name   string
		edit   func(map[string]any) bool
		cause  string
		reason []string
	}{
		{"record names another image", func(r map[string]any) bool { r["image"] = other; return true },
			"rootfs_mismatch", []string{"not on the top layer", "of image sha256:" + other + " it names"}},
		{"record removed", func(map[string]any) bool { return false },
			"image_unknown", []string{"cannot read what it was created from", "is not in CRI-O's storage"}},
	}
	ids := make([]string, len(cases))
	for i := range cases {
		if ids[i], err = e.Create(podID, podCfg, ref); err != nil {
			t.Fatalf("signed image refused: %v", err)
		}
	}
	t.Cleanup(func() {
		// CRI-O writes its records from memory as it removes them.
		for _, id := range append(ids, control) {
			if out, err := e.Crictl("rm", "-f", id); err != nil {
				t.Errorf("crictl rm %s: %v: %s", id, err, out)
			}
		}
	})
	mark := len(e.SigngateLog.String())
	if out, err := e.Crictl("start", control); err != nil {
		t.Fatalf("crictl start: %v: %s", err, out)
	}
	if err := harness.WaitFor(30*time.Second, func() error {
		if s := state(e, control); s != "CONTAINER_RUNNING" {
			return fmt.Errorf("the container whose record is untouched is %s", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if l := logLines(e, mark, "decision=deny", "container_id="+control); len(l) != 0 {
		t.Fatalf("the start of the container whose record is untouched was refused: %s", l)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := ids[i]
			tamperRecord(t, e, id, c.edit)
			mark := len(e.SigngateLog.String())
			if out, err := e.Crictl("start", id); err != nil {
				t.Fatalf("CRI-O refused the start (TestCRIOStartRefusalIsIgnored says it does not): %v: %s", err, out)
			}
			// Logged before CRI-O's start returned; read from signgate's
			// stderr a moment later.
			if err := harness.WaitFor(30*time.Second, func() error {
				if len(logLines(e, mark, "decision=deny", "container_id="+id, "cause="+c.cause)) == 0 {
					return fmt.Errorf("signgate did not refuse the start on the doubt (%s)", c.cause)
				}
				return nil
			}); err != nil {
				t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
			}
			var listed localapi.RunningContainer
			if err := harness.WaitFor(30*time.Second, func() error {
				out, _ := exec.Command(filepath.Join(e.Bin, "signgate"), "ps", "--socket", e.APISocket(), "--output", "json").Output()
				var r localapi.RunningResponse
				if err := json.Unmarshal(out, &r); err != nil {
					return fmt.Errorf("signgate ps --output json: %v: %s", err, out)
				}
				for _, rc := range r.Containers {
					if rc.ID == id {
						listed = rc
						if rc.Verdict == localapi.RunningUntrusted {
							return nil
						}
					}
				}
				return fmt.Errorf("signgate ps does not list %s untrusted: %s", id, out)
			}); err != nil {
				t.Fatalf("%v\n%s", err, e.SigngateLog.String()[mark:])
			}
			t.Logf("signgate ps: %s %s: %s", listed.Verdict, listed.Cause, listed.Reason)
			if c.cause == "rootfs_mismatch" && strings.Contains(listed.Reason, "cannot read") {
				t.Errorf("a record read that contradicts itself is called unreadable: %q", listed.Reason)
			}
			if listed.Cause != c.cause || listed.Digest != d || listed.Policy != "startdoubt" {
				t.Errorf("listed as %+v, want cause %s, digest %s, policy startdoubt", listed, c.cause, d)
			}
			for _, r := range c.reason {
				if !strings.Contains(listed.Reason, r) {
					t.Errorf("ps's reason %q does not say %q", listed.Reason, r)
				}
			}
			if err := harness.WaitFor(120*time.Second, func() error {
				if s := state(e, id); s != "CONTAINER_EXITED" {
					return fmt.Errorf("the container whose start was refused on a doubt is %s", s)
				}
				return nil
			}); err != nil {
				t.Fatalf("%v:\n%s", err, e.SigngateLog.String()[mark:])
			}
			if len(logLines(e, mark, "stopped a running container its policy no longer trusts", "id="+id, "policy=startdoubt")) == 0 {
				t.Fatalf("no log line for the stop:\n%s", e.SigngateLog.String()[mark:])
			}
		})
	}
	// The untouched one ran on through the judgements that stopped them.
	if s := state(e, control); s != "CONTAINER_RUNNING" {
		t.Fatalf("the container whose record is untouched is %s:\n%s", s, e.SigngateLog.String())
	}
}
