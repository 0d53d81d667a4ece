// Package crio runs signgate's gate cases on a real CRI-O (make crio-test):
// CRI-O v1.35.2 from the module proxy with NRI and its default validator
// on (requiring signgate), runc under Debian's conmon, crictl as the CRI
// client, the loopback test registry, and signgate reading CRI-O's
// containers/storage ([daemon.runtime] name = "crio").
package crio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

var E *harness.Env

func TestMain(m *testing.M) {
	bin := os.Getenv("SIGNGATE_TEST_BIN")
	if bin == "" {
		fmt.Println("integration/crio: SIGNGATE_TEST_BIN is not set; run `make crio-test`")
		os.Exit(m.Run()) // the tests skip themselves
	}
	e, err := harness.Start(harness.Options{Bin: bin, Runtime: harness.RuntimeCRIO, DropIn: "../../packaging/crio/10-signgate.conf"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration/crio setup:", err)
		if e != nil {
			e.Dump()
			e.Stop()
		}
		os.Exit(1)
	}
	E = e
	code := m.Run()
	if code != 0 {
		e.Dump()
	}
	e.Stop()
	os.Exit(code)
}

func need(t *testing.T) *harness.Env {
	t.Helper()
	if E == nil {
		testenv.Skip(t, "SIGNGATE_TEST_BIN is not set")
	}
	return E
}

func pod(t *testing.T, e *harness.Env) (string, string) {
	t.Helper()
	id, cfg, err := e.Pod("default")
	if err != nil {
		t.Fatal(err)
	}
	return id, cfg
}

func image(t *testing.T, e *harness.Env, repo string, keys ...string) string {
	t.Helper()
	d, err := e.Image(repo, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return d.DigestStr()
}

// imageID is CRI-O's ID of a pulled image (its config digest).
func imageID(t *testing.T, e *harness.Env, ref string) string {
	t.Helper()
	id, err := e.Crictl("inspecti", "-o", "go-template", "--template", "{{.status.id}}", ref)
	if err != nil {
		t.Fatalf("crictl inspecti %s: %v: %s", ref, err, id)
	}
	return strings.TrimSpace(id)
}

func mustDeny(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("container was created; want it refused")
	}
	msg := strings.ReplaceAll(err.Error(), `\`, "")
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Fatalf("refusal %q does not mention %q", err, p)
		}
	}
}

// createRaw creates a container from a CRI config written as given.
func createRaw(t *testing.T, e *harness.Env, podID, podCfg, name, cfg string) (string, error) {
	t.Helper()
	p := filepath.Join(e.Dir, name+".json")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.Crictl("create", podID, p, podCfg)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return out, nil
}

// TestCRIOGate: on CRI-O, a signed image's container is created and runs;
// an unsigned one is refused by signgate, naming the digest and the policy;
// the signed one starts (StartContainer decides again, from CRI-O's storage
// record, though CRI-O would start it whatever signgate said: see
// TestCRIOStartRefusalIsIgnored).
func TestCRIOGate(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	t.Run("signed image runs", func(t *testing.T) {
		image(t, e, "signed/app", "k1")
		id, err := e.Create(podID, podCfg, e.Registry+"/signed/app:v1")
		if err != nil {
			t.Fatalf("signed image refused on CRI-O: %v", err)
		}
		if out, err := e.Crictl("start", id); err != nil {
			t.Fatalf("crictl start: %v: %s", err, out)
		}
		if err := harness.WaitFor(10*time.Second, func() error {
			st, err := e.Crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
			if err != nil || st != "CONTAINER_RUNNING" {
				return fmt.Errorf("state %q: %v", st, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unsigned image is denied", func(t *testing.T) {
		d := image(t, e, "unsigned/app")
		_, err := e.Create(podID, podCfg, e.Registry+"/unsigned/app:v1")
		mustDeny(t, err, "signgate denied image", d, `policy "apps"`, "no cosign signatures found")
	})
}

// TestCRIOSandboxes: the pause image is decided for every pod sandbox,
// whether CRI-O runs it as an infra container (the pod shares its PID
// namespace) or, with drop_infra_ctr (CRI-O's default) and a PID namespace
// per container, only keeps its storage container: the pause image is
// decided either way, and the pod's containers are gated as any other.
func TestCRIOSandboxes(t *testing.T) {
	e := need(t)
	decided := func() int { return strings.Count(e.SigngateLog.String(), "container=(sandbox)") }
	// The decision is logged as RunPodSandbox answers, and may reach the
	// log a moment after crictl returns: waited for, on a clock.
	decidedAgain := func(want int) error {
		return harness.WaitFor(30*time.Second, func() error {
			if n := decided(); n != want {
				return fmt.Errorf("%d decisions, want %d", n, want)
			}
			return nil
		})
	}
	before := decided()
	pod(t, e)
	if err := decidedAgain(before + 1); err != nil {
		t.Fatalf("the infra container's pause image was not decided (%v):\n%s", err, e.SigngateLog.String())
	}
	p := filepath.Join(e.Dir, "noinfra-pod.json")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"metadata":{"name":"noinfra","namespace":"default","uid":"noinfra"},"log_directory":%q,"linux":{"security_context":{"namespace_options":{"network":2,"pid":1}}}}`,
		filepath.Join(e.Dir, "logs", "noinfra"))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.Crictl("runp", p)
	if err != nil {
		t.Fatalf("a pod without an infra process was refused: %v: %s", err, out)
	}
	if err := decidedAgain(before + 2); err != nil {
		t.Fatalf("the pause image of a pod without an infra process was not decided (%v)", err)
	}
	podID := out[strings.LastIndex(out, "\n")+1:]
	image(t, e, "noinfra/unsigned")
	_, err = createRaw(t, e, podID, p, "noinfra-c", fmt.Sprintf(
		`{"metadata":{"name":"noinfra-c"},"image":{"image":%q},"log_path":"noinfra-c.log","linux":{"security_context":{"namespace_options":{"network":2,"pid":1}}}}`,
		e.Registry+"/noinfra/unsigned:v1"))
	mustDeny(t, err, "signgate denied image", "no cosign signatures found")
}

// TestCRIOAnnotationSpoofing: a CRI client cannot pass an unsigned image
// off as a signed one on CRI-O, neither through the name it says the user
// gave (user_specified_image) nor by writing CRI-O's own ImageRef
// annotation: signgate binds to CRI-O's storage record of the container,
// whose layer is built on the unsigned image's layers.
func TestCRIOAnnotationSpoofing(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "spoof/signed", "k1")
	unsigned := image(t, e, "spoof/unsigned")
	signedID := imageID(t, e, e.Registry+"/spoof/signed:v1")
	unsignedID := imageID(t, e, e.Registry+"/spoof/unsigned:v1")
	t.Run("user_specified_image", func(t *testing.T) {
		_, err := createRaw(t, e, podID, podCfg, "spoof-usi", fmt.Sprintf(
			`{"metadata":{"name":"spoof-usi"},"image":{"image":%q,"user_specified_image":%q},"log_path":"spoof-usi.log"}`,
			unsignedID, e.Registry+"/spoof/signed:v1"))
		mustDeny(t, err, "signgate denied image", unsigned, "no cosign signatures found")
	})
	t.Run("ImageRef annotation", func(t *testing.T) {
		_, err := createRaw(t, e, podID, podCfg, "spoof-ann", fmt.Sprintf(
			`{"metadata":{"name":"spoof-ann"},"image":{"image":%q},"annotations":{"io.kubernetes.cri-o.ImageRef":%q,"io.kubernetes.cri.image-name":%q},"log_path":"spoof-ann.log"}`,
			e.Registry+"/spoof/unsigned:v1", signedID, e.Registry+"/spoof/signed:v1"))
		// CRI-O lets the client's annotation replace its own: signgate
		// reads the storage's record and refuses the disagreement.
		mustDeny(t, err, "signgate denied image", "io.kubernetes.cri-o.ImageRef annotation names",
			"CRI-O's storage created it from image sha256:"+strings.TrimPrefix(unsignedID, "sha256:"))
	})
}

// TestCRIOMovedTag: a tag re-pulled onto unsigned content runs what it
// names now, CRI-O's storage record says so, and signgate refuses it,
// naming the new digest, though the same tag named a signed image before.
func TestCRIOMovedTag(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	ref := e.Registry + "/moved/app:v1"
	image(t, e, "moved/app", "k1")
	if id, err := e.Create(podID, podCfg, ref); err != nil || id == "" {
		t.Fatalf("signed tag refused: %v", err)
	}
	moved, err := harness.PushBusybox(ref, "sleep", "7200")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pull(ref); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(podID, podCfg, ref)
	mustDeny(t, err, "signgate denied image", moved.DigestStr(), "no cosign signatures found")
}

// TestCRIOStartRefusalIsIgnored states what CRI-O (v1.34.0, and still
// v1.35.2: server/container_start.go logs and goes on) does with
// signgate's refusal at StartContainer: a container created while its key
// was trusted is decided again at start, refused by signgate, and started
// all the same (CRI-O logs "NRI start failed" and goes on). So on CRI-O a
// key dropped between creation and start does not stop that start, as it
// does on containerd (TestStartRechecks); creation is where CRI-O is gated.
func TestCRIOStartRefusalIsIgnored(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "startcheck/app", "k1")
	id, err := e.Create(podID, podCfg, e.Registry+"/startcheck/app:v1")
	if err != nil {
		t.Fatalf("signed image refused: %v", err)
	}
	good := e.SigngateConfig()
	t.Cleanup(func() {
		if ok, err := e.ReloadSigngate(good); !ok || err != nil {
			t.Errorf("restoring the config: %v %v", ok, err)
		}
	})
	if ok, err := e.ReloadSigngate(strings.Replace(good, `keys = ["k1", "cli"]`, `keys = ["cli"]`, 1)); !ok || err != nil {
		t.Fatalf("the edited config was not taken (ok=%v, err=%v)", ok, err)
	}
	before := strings.Count(e.SigngateLog.String(), "requires any of cli;")
	if out, err := e.Crictl("start", id); err != nil {
		t.Fatalf("CRI-O refused the start: it now fails a start NRI refuses (update the threat model): %v: %s", err, out)
	}
	if after := strings.Count(e.SigngateLog.String(), "requires any of cli;"); after <= before {
		t.Fatalf("signgate did not refuse the start:\n%s", e.SigngateLog.String())
	}
}

// TestCRIOImageVolumes: CRI-O mounts an image volume as an overlay of the
// image's top layer (as containers/storage mounts it) over its empty
// image-volumes directory; signgate binds that layer to the images whose
// top layer it is and decides them under their own policy: a signed image
// is mounted, an unsigned one refused, naming the mount point. A sub path
// (mounted from CRI-O's run directory) cannot be bound and is refused.
func TestCRIOImageVolumes(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "vol/signed", "k1")
	unsigned := image(t, e, "vol/unsigned")
	root := e.Registry + "/vol/signed:v1"
	create := func(name, vol, sub string) error {
		// CRI-O wants the name the user gave for an image volume too.
		_, err := createRaw(t, e, podID, podCfg, name, fmt.Sprintf(
			`{"metadata":{"name":%[1]q},"image":{"image":%[2]q},"log_path":"%[1]s.log","mounts":[{"container_path":"/data","image":{"image":%[3]q,"user_specified_image":%[3]q},"image_sub_path":%[4]q,"readonly":true}]}`, name, root, vol, sub))
		return err
	}
	if err := create("vol-signed", root, ""); err != nil {
		t.Fatalf("a signed image volume was refused: %v", err)
	}
	mustDeny(t, create("vol-unsigned", e.Registry+"/vol/unsigned:v1", ""), "signgate denied image", unsigned, "mounted as the image volume at /data", "no cosign signatures found")
	mustDeny(t, create("vol-sub", root, "bin"), "signgate denied image", "the mount at /data names containerd's image-volume or snapshot directories")
}

// TestCRIODoctor: signgate doctor on this CRI-O node reads crio.conf and
// its drop-ins as CRI-O does, names the CRI-O signgate is connected to (as
// NRI's Configure named it), and says the validator is on and requires
// signgate, so a creation is refused while signgate is absent, killed or
// wedged (TestZZCRIOFailsClosed shows each): every guarantee holds, exit 0.
func TestCRIODoctor(t *testing.T) {
	e := need(t)
	out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--config", filepath.Join(e.Dir, "signgate.toml"),
		"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d"), "--crio-socket", e.ContainerdSock).CombinedOutput()
	if err != nil {
		t.Fatalf("doctor on CRI-O %s: %v (want exit 0):\n%s", e.CRIOVersion(), err, out)
	}
	for _, want := range []string{"CRI-O, storage at ", "OK   signgate reads what each container runs from CRI-O's own storage",
		"OK   NRI is on", "OK   CRI-O's NRI default validator is on: [crio.nri.default_validator] nri_enable_default_validator = true (in CRI-O's running config (GET /config on " + e.ContainerdSock + ")",
		`OK   CRI-O's default validator requires "signgate"`, "OK   signgate absent or killed: CRI-O creates no container",
		"OK   signgate wedged (its NRI requests time out): CRI-O creates no container",
		"OK   fails closed: no container is created while signgate is absent, killed or too slow: the default validator requires \"signgate\", and CRI-O " + e.CRIOVersion() + " has NRI's validator",
		"OK   signgate answers before CRI-O stops waiting", "OK   signgate is running and connected to NRI",
		"OK   doctor reads the NRI config CRI-O runs, and CRI-O's files give it",
		"OK   OCI artifact volumes do not run unverified: [crio.image] oci_artifact_mount_support = false (in CRI-O's running config",
		"OK   signgate reads the records of the runtime NRI connected it to: cri-o " + e.CRIOVersion() + ", as NRI's Configure named it"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

// TestZZCRIOFailsClosed: with CRI-O's NRI default validator requiring
// signgate (the drop-in docs/install.md gives, CRI-O 1.35), a signed
// image's container is refused while signgate is absent (stopped), killed
// or wedged (SIGSTOP), and admitted again once signgate is back, without
// restarting CRI-O. The image is signed so that only signgate's absence
// can refuse it. The first creation after signgate went is refused by
// signgate's own validator call failing (CRI-O still lists the plugin:
// "ttrpc: closed" when it died, a timeout when wedged, after which CRI-O
// closes it); every one after, by the default validator missing it. A pod
// sandbox is run meanwhile: the validator covers containers only.
func TestZZCRIOFailsClosed(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "failclosed/app", "k1")
	ref := e.Registry + "/failclosed/app:v1"
	if _, err := e.Create(podID, podCfg, ref); err != nil {
		t.Fatalf("signed image refused with signgate up: %v", err)
	}
	const (
		failed  = "validator plugin 10-signgate failed"
		missing = `validation error: required plugin "signgate" not present`
	)
	for _, c := range []struct {
		name  string
		down  func() error
		back  func() error
		first string // what refuses the first creation
	}{
		{"absent", e.StopSigngate, e.StartSigngate, ""},
		{"killed", func() error { e.KillSigngate(); return nil }, e.StartSigngate, ""},
		{"wedged", e.PauseSigngate, e.ResumeSigngate, failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := strings.Count(e.SigngateLog.String(), "connected to NRI")
			if err := c.down(); err != nil {
				t.Fatal(err)
			}
			var refusals []string
			for i := 0; i < 5 && (len(refusals) == 0 || !strings.Contains(refusals[len(refusals)-1], missing)); i++ {
				_, err := e.Create(podID, podCfg, ref)
				if err == nil {
					_ = c.back()
					t.Fatalf("CRI-O %s created a container with signgate %s (after %d refusals): fails open", e.CRIOVersion(), c.name, len(refusals))
				}
				refusals = append(refusals, strings.ReplaceAll(err.Error(), `\`, ""))
			}
			if c.name == "absent" {
				// NRI's validator covers CreateContainer only: a pod
				// sandbox (the pause image) is run without signgate.
				if _, _, err := e.Pod("default"); err != nil {
					t.Errorf("a pod sandbox with signgate absent: %v (NRI now holds sandboxes too: update the threat model)", err)
				}
			}
			if berr := c.back(); berr != nil {
				t.Fatal(berr)
			}
			for i, r := range refusals {
				if !strings.Contains(r, failed) && !strings.Contains(r, missing) || i == 0 && c.first != "" && !strings.Contains(r, c.first) {
					t.Errorf("refusal %d with signgate %s is not NRI's: %s", i, c.name, r)
				}
			}
			if last := refusals[len(refusals)-1]; !strings.Contains(last, missing) {
				t.Errorf("CRI-O's default validator did not refuse for want of signgate: %s", last)
			}
			if err := e.WaitRegisteredOnCRIO(); err != nil {
				t.Fatal(err)
			}
			// Back: admitted again once it has reconnected.
			if err := harness.WaitFor(15*time.Second, func() error {
				if strings.Count(e.SigngateLog.String(), "connected to NRI") <= before {
					return fmt.Errorf("signgate has not reconnected")
				}
				_, err := e.Create(podID, podCfg, ref)
				return err
			}); err != nil {
				t.Fatalf("signgate back after being %s: %v", c.name, err)
			}
		})
	}
}
