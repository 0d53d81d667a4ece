// Command demo shows signgate working end to end on this machine: a real
// registry, containerd with NRI requiring signgate, one image signed by the
// real cosign CLI and one left unsigned. The signed one runs; the unsigned one
// is refused, and signgate says why. Then a key kept in a KMS (the AWS KMS
// emulator) is trusted, and disabled. Run it with `make demo`; with
// `make demo-keep` (SIGNGATE_KEEP=1) it then leaves them up to try.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/kmstest"
)

func demoConfig(e *harness.Env) string {
	return fmt.Sprintf(`# The demo's policy: the sandbox image runs unverified; everything else
# from the local registry must carry a cosign signature by the "ci" key.
[daemon]
nri_socket = %q
containerd_socket = %q
api_socket = %q
metrics_address = %q
state_dir = %q

[registry]
hosts_dir = %q

[keys.ci]
path = %q

[[policy]]
name = "sandbox"
scopes = ["%s/pause"]
mode = "allow"

[[policy]]
name = "local-registry"
scopes = ["%s/**"]
  [policy.cosign]
  keys = ["ci"]
`, e.NRISock, e.ContainerdSock, e.APISocket(), e.MetricsAddr, e.StateDir(), filepath.Join(e.Dir, "certs.d"), filepath.Join(e.CosignDir, "cosign.pub"), e.Registry, e.Registry)
}

func main() {
	bin := os.Getenv("SIGNGATE_TEST_BIN")
	if bin == "" {
		fail("run this with `make demo`")
	}
	step("Starting a registry, containerd (NRI on, validator requiring signgate) and signgate")
	e, err := harness.Start(harness.Options{Bin: bin, DropIn: "packaging/containerd/signgate.toml", SigngateConfig: demoConfig})
	if err != nil {
		if e != nil {
			e.Dump()
			e.Stop()
		}
		fail(err.Error())
	}
	defer e.Stop()
	fmt.Printf("   registry %s, containerd %s, signgate config %s\n", e.Registry, e.ContainerdSock, filepath.Join(e.Dir, "signgate.toml"))

	step("Pushing two images; signing one with the real cosign CLI")
	signed, err := harness.PushBusybox(e.Registry+"/demo/signed:v1", "sleep", "3600")
	check(err)
	unsigned, err := harness.PushBusybox(e.Registry+"/demo/unsigned:v1", "sleep", "3600")
	check(err)
	show(e.Bin+"/cosign", e.CosignDir, "sign", "--key", "cosign.key", "--yes", "--use-signing-config=false", "--tlog-upload=false", signed.String())
	check(e.Pull(e.Registry + "/demo/signed:v1"))
	check(e.Pull(e.Registry + "/demo/unsigned:v1"))

	step("What signgate thinks of each (signgate verify)")
	for _, img := range []string{signed.String(), unsigned.String()} {
		show(e.Bin+"/signgate", "", "verify", "--config", filepath.Join(e.Dir, "signgate.toml"), img)
	}

	step("crictl create + start: the signed image")
	pod, podCfg, err := e.Pod("default")
	check(err)
	id, err := e.Create(pod, podCfg, e.Registry+"/demo/signed:v1")
	check(err)
	_, err = e.Crictl("start", id)
	check(err)
	time.Sleep(500 * time.Millisecond)
	out, _ := e.Crictl("ps", "--id", id)
	fmt.Println(indent(out))

	step("crictl create: the unsigned image")
	_, err = e.Create(pod, podCfg, e.Registry+"/demo/unsigned:v1")
	if err == nil {
		fail("the unsigned image was admitted")
	}
	fmt.Println(indent(crictlError(err.Error())))

	step("signgate's decision log (journald when present, else stderr)")
	for _, l := range strings.Split(e.SigngateLog.String(), "\n") {
		if strings.Contains(l, "msg=\"signgate allow") || strings.Contains(l, "msg=\"signgate deny") {
			fmt.Println(indent(l))
		}
	}

	kmsDemo(e, pod, podCfg)

	step("Stopping signgate: containerd now refuses every new container")
	e.KillSigngate()
	_, _ = e.Create(pod, podCfg, e.Registry+"/demo/signed:v1") // may race the closing connection; refused either way
	_, err = e.Create(pod, podCfg, e.Registry+"/demo/signed:v1")
	if err == nil {
		fail("a container was created without signgate")
	}
	fmt.Println(indent(crictlError(err.Error())))
	fmt.Println("\nDemo complete: signed ran, unsigned refused, a key disabled in the KMS stopped its images, and no signgate means no containers.")
	if os.Getenv("SIGNGATE_KEEP") != "" {
		keepUp(e)
	}
}

// kmsDemo trusts a key kept in AWS KMS (the local-kms emulator): an image
// signed with it runs until the key is disabled, and after the next sync it
// does not.
func kmsDemo(e *harness.Env, pod, podCfg string) {
	step("A key kept in a KMS: AWS KMS (the local-kms emulator), alias/demo")
	l, err := kmstest.RunLocalKMS(kmstest.LocalKMSBinary(), e.Dir)
	check(err)
	defer l.Stop()
	for k, v := range l.Env() {
		check(os.Setenv(k, v)) // for signgate and cosign, started below
	}
	key := l.CreateKey(fatal{})
	l.PointAlias(fatal{}, "alias/demo", key)
	cfg := strings.Replace(demoConfig(e), "[keys.ci]", "[keys.release]\nkms = \"awskms:///alias/demo\"\n\n[keys.ci]", 1)
	cfg = strings.Replace(cfg, "[[policy]]\nname = \"local-registry\"", fmt.Sprintf("[[policy]]\nname = \"release\"\nscopes = [\"%s/release/*\"]\n  [policy.cosign]\n  keys = [\"release\"]\n\n[[policy]]\nname = \"local-registry\"", e.Registry), 1)
	check(e.RestartSigngate(cfg))
	img, err := harness.PushBusybox(e.Registry+"/release/app:v1", "sleep", "3600")
	check(err)
	show(e.Bin+"/cosign", e.Dir, "sign", "--key", "awskms:///alias/demo", "--yes", "--use-signing-config=false", "--tlog-upload=false", img.String())
	check(e.Pull(e.Registry + "/release/app:v1"))
	show(e.Bin+"/signgate", "", "keys", "list", "--socket", e.APISocket())
	_, err = e.Create(pod, podCfg, e.Registry+"/release/app:v1")
	check(err)
	fmt.Println("   crictl create release/app:v1: created")

	step("Disabling the key in the KMS; signgate keys sync (it also syncs every kms.sync_interval)")
	l.DisableKey(fatal{}, key)
	show(e.Bin+"/signgate", "", "keys", "sync", "--socket", e.APISocket())
	_, err = e.Create(pod, podCfg, e.Registry+"/release/app:v1")
	if err == nil {
		fail("an image signed by a disabled KMS key was admitted")
	}
	fmt.Println(indent(crictlError(err.Error())))
}

// fatal ends the demo on a helper's failure.
type fatal struct{}

func (fatal) Helper()           {}
func (fatal) Fatal(args ...any) { fail(fmt.Sprint(args...)) }

// crictlError keeps the runtime's message from crictl's output.
func crictlError(s string) string {
	if i := strings.LastIndex(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	return strings.TrimSuffix(strings.ReplaceAll(s, `\"`, `"`), `"`)
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func show(bin, dir string, args ...string) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=")
	out, _ := cmd.CombinedOutput()
	fmt.Printf("   $ %s %s\n%s\n", filepath.Base(bin), strings.Join(args, " "), indent(strings.TrimSpace(string(out))))
}

func indent(s string) string { return "   " + strings.ReplaceAll(s, "\n", "\n   ") }

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "demo:", msg)
	os.Exit(1)
}
