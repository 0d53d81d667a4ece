package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/semver"
)

// RuntimeCRIO is Options.Runtime for CRI-O.
const RuntimeCRIO = "crio"

// render is the caller's signgate config, or the suite's.
func render(o Options) func(*Env) string {
	if o.SigngateConfig != nil {
		return o.SigngateConfig
	}
	return DefaultSigngateConfig
}

// CRIO reports whether CRI-O runs instead of containerd.
func (e *Env) CRIO() bool { return e.crio }

// CRIOStorage is CRI-O's containers/storage root and run root.
func (e *Env) CRIOStorage() (root, runRoot string) {
	return filepath.Join(e.Dir, "crio", "root"), filepath.Join(e.Dir, "crio", "run")
}

// startCRIO brings CRI-O up in place of containerd: everything it keeps
// under Dir/crio, NRI on at NRISock, the registry read over plain HTTP,
// runc under conmon, cgroupfs, the pause image from the test registry, and
// then signgate reading CRI-O's storage.
func (e *Env) startCRIO(render func(*Env) string) error {
	base := filepath.Join(e.Dir, "crio")
	root, run := e.CRIOStorage()
	for _, d := range []string{root, run, filepath.Join(base, "conf.d"), filepath.Join(base, "registries.d"), filepath.Join(base, "hooks.d"), filepath.Join(base, "cni"), filepath.Join(base, "nri-plugins"), filepath.Join(base, "nri-conf"), filepath.Join(base, ".config", "containers")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	e.ContainerdSock = filepath.Join(e.Dir, "crio.sock")
	conmon, err := exec.LookPath("conmon")
	if err != nil {
		return fmt.Errorf("conmon (Debian's conmon package, make deps): %w", err)
	}
	// runc, as under containerd: Debian's crun 1.8.1 refuses the runtime
	// spec CRI-O writes ("unknown version specified").
	runc, err := exec.LookPath("runc")
	if err != nil {
		return fmt.Errorf("runc (Debian's runc package, make deps): %w", err)
	}
	// CRI-O gives the infra container oom_score_adj -998, and this
	// machine's own container may not lower it (containerd's
	// restrict_oom_score_adj caps it; CRI-O has no such setting): runc is
	// run through a wrapper that raises a negative value to 0.
	wrapper := filepath.Join(base, "runc")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf(runcWrapper, runc)), 0o755); err != nil {
		return err
	}
	runc = wrapper
	regs := ""
	for _, r := range []string{e.Registry, e.Referrers, e.Upstream} {
		regs += fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n\n", r)
	}
	files := map[string]string{
		"registries.conf": "unqualified-search-registries = []\n\n" + regs,
		// CRI-O's default signature_policy (""): containers/image reads
		// $HOME/.config/containers/policy.json. A policy path set in
		// crio.conf would also refuse every checkpoint restore, which a
		// node with CRI-O's defaults does.
		".config/containers/policy.json": `{"default": [{"type": "insecureAcceptAnything"}]}` + "\n",
		"crio.conf":                      crioConfig(e, base, root, run, conmon, runc),
	}
	// The shipped drop-in (Options.DropIn): the validator requiring
	// signgate (CRI-O 1.35 has it; the proxy's v1.34.0 ignores it, silently).
	if !e.noGate {
		b, err := os.ReadFile(e.dropIn)
		if err != nil {
			return fmt.Errorf("CRI-O drop-in: %w", err)
		}
		files["conf.d/10-signgate.conf"] = string(b)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(base, n), []byte(c), 0o644); err != nil {
			return err
		}
	}
	// CRI-O's files, which signgate reads for enable_criu_support without
	// crio_socket.
	sg := render(e) + fmt.Sprintf("\n[daemon.runtime]\nname = \"crio\"\ncrio_storage_root = %q\ncrio_storage_run_root = %q\ncrio_config = %q\ncrio_config_dir = %q\n",
		root, run, filepath.Join(base, "crio.conf"), filepath.Join(base, "conf.d"))
	if err := os.WriteFile(filepath.Join(e.Dir, "signgate.toml"), []byte(sg), 0o644); err != nil {
		return err
	}
	if e.crioVersion, err = crioVersion(filepath.Join(e.Bin, "crio")); err != nil {
		return err
	}
	if err := e.runCRIO(); err != nil {
		return err
	}
	if e.noGate || e.standIn {
		return nil
	}
	if err := e.StartSigngate(); err != nil {
		return err
	}
	return e.WaitRegisteredOnCRIO()
}

// CRIOVersion is the version the CRI-O binary reports ("1.35.2").
func (e *Env) CRIOVersion() string { return e.crioVersion }

// CRIOHasValidator reports whether this CRI-O has NRI's default validator:
// the harness builds CRI-O from the module proxy, whose v1.34.0 is the tag
// as first pushed (NRI v0.9, none); 1.35 has it (NRI v0.11).
func (e *Env) CRIOHasValidator() bool {
	return semver.Compare("v"+e.crioVersion, "v1.35.0") >= 0
}

// crioVersion asks the binary its version.
func crioVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", bin, err, out)
	}
	f := strings.Fields(strings.SplitN(string(out), "\n", 2)[0]) // "crio version 1.35.2"
	if len(f) < 3 || !semver.IsValid("v"+f[2]) {
		return "", fmt.Errorf("%s --version: no version in %q", bin, out)
	}
	return f[2], nil
}

// WaitRegisteredOnCRIO waits for the signgate started last to be registered
// with this CRI-O. One with a validator takes the first connection. The
// proxy's v1.34.0 refuses the validator subscription after signgate sees
// "connected"; the second connection, without it, is the one that gates,
// and until then that CRI-O creates containers unchecked.
func (e *Env) WaitRegisteredOnCRIO() error {
	if e.CRIOHasValidator() {
		return nil // StartSigngate waited for "connected to NRI"
	}
	return WaitFor(15*time.Second, func() error {
		log := e.SigngateLog.String()
		log = log[strings.LastIndex(log, "--- signgate start"):]
		_, after, ok := strings.Cut(log, "CRI-O refused signgate's NRI validator subscription")
		if !ok || !strings.Contains(after, "connected to NRI") {
			return fmt.Errorf("signgate is not registered with CRI-O without the validator yet")
		}
		return nil
	})
}

func crioConfig(e *Env, base, root, run, conmon, runc string) string {
	return fmt.Sprintf(`[crio]
root = %[2]q
runroot = %[3]q
storage_driver = "overlay"
log_dir = %[1]q
version_file = "%[19]s/version"
version_file_persist = "%[19]s/version-persist"
clean_shutdown_file = "%[19]s/clean.shutdown"

[crio.api]
listen = %[4]q
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
pinns_path = %[5]q
namespaces_dir = %[6]q
container_exits_dir = %[7]q
container_attach_socket_dir = %[8]q
hooks_dir = [%[9]q]
default_mounts_file = ""
# CRI-O's default: a pod that shares a PID namespace (the suite's pods)
# gets an infra container from the pause image, which is gated; one that
# does not gets none.
drop_infra_ctr = true
# No iptables or nft here; pods use the host network anyway.
disable_hostport_mapping = true
log_level = "info"

[crio.runtime.runtimes.runc]
runtime_path = %[10]q
runtime_type = "oci"
runtime_root = %[11]q
monitor_path = %[12]q

[crio.image]
pause_image = "%[13]s/pause:1.0"
pause_command = ""
signature_policy = %[14]q

[crio.network]
network_dir = %[15]q
plugin_dirs = [%[15]q]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = true
nri_listen = %[16]q
nri_plugin_dir = %[17]q
nri_plugin_config_dir = %[18]q
nri_plugin_registration_timeout = "5s"
nri_plugin_request_timeout = "2s"
`, filepath.Join(base, "logs"), root, run, e.ContainerdSock, filepath.Join(e.Bin, "pinns"),
		filepath.Join(base, "ns"), filepath.Join(base, "exits"), filepath.Join(base, "attach"), filepath.Join(base, "hooks.d"),
		runc, filepath.Join(run, "runc"), conmon, e.Registry, "", // signature_policy: CRI-O's default (see files)
		filepath.Join(base, "cni"), e.NRISock, filepath.Join(base, "nri-plugins"), filepath.Join(base, "nri-conf"), base)
}

// crioLogTail is the end of CRI-O's log, for Dump.
func (e *Env) crioLogTail() string {
	b, err := os.ReadFile(filepath.Join(e.Dir, "crio.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

// runcWrapper runs runc after raising a negative oomScoreAdj in the
// bundle's config.json to 0.
const runcWrapper = `#!/bin/sh
prev=
for a in "$@"; do
	case "$prev" in --bundle|-b) sed -i -E 's/"oomScoreAdj": ?-[0-9]+/"oomScoreAdj":0/' "$a/config.json" ;; esac
	prev=$a
done
exec %s "$@"
`

// runCRIO starts CRI-O on the files startCRIO wrote and waits for its CRI.
func (e *Env) runCRIO() error {
	base := filepath.Join(e.Dir, "crio")
	var err error
	if e.ctd, err = e.startEnv("crio", filepath.Join(e.Bin, "crio"), []string{"HOME=" + base},
		"--config", filepath.Join(base, "crio.conf"), "--config-dir", filepath.Join(base, "conf.d"),
		"--registries-conf", filepath.Join(base, "registries.conf"), "--registries-conf-dir", filepath.Join(base, "registries.d")); err != nil {
		return err
	}
	if err := WaitFor(60*time.Second, func() error {
		_, err := e.Crictl("version")
		return err
	}); err != nil {
		return fmt.Errorf("CRI-O did not come up: %w (see %s)", err, filepath.Join(e.Dir, "crio.log"))
	}
	return nil
}

// RestartCRIO stops CRI-O (SIGTERM; its containers live on under conmon),
// writes the drop-ins given into its config directory (name to content;
// "" removes one), starts it again and waits until signgate has connected
// to it again: CRI-O reads most of its config at start only
// (enable_criu_support, NRI's).
func (e *Env) RestartCRIO(dropIns map[string]string) error {
	mark := strings.Count(e.SigngateLog.String(), "connected to NRI")
	if err := e.ctd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := WaitFor(60*time.Second, func() error {
		if err := e.ctd.Process.Signal(syscall.Signal(0)); err == nil {
			return fmt.Errorf("CRI-O has not exited")
		}
		return nil
	}); err != nil {
		return err
	}
	for n, c := range dropIns {
		p := filepath.Join(e.Dir, "crio", "conf.d", n)
		if c == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			return err
		}
	}
	if err := e.runCRIO(); err != nil {
		return err
	}
	return WaitFor(60*time.Second, func() error {
		if strings.Count(e.SigngateLog.String(), "connected to NRI") <= mark {
			return fmt.Errorf("signgate has not connected to the restarted CRI-O")
		}
		return nil
	})
}
