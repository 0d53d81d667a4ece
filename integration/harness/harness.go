// Package harness brings up the real parts signgate works with, for the
// integration suite and `make demo`: the Debian distribution registry (behind a
// proxy that can be made to hang), containerd (2.2 by default, or any
// version from 1.7 on: see Containerd) with NRI and, where it has one, its
// default validator requiring signgate, runc, crictl as the CRI client, and
// signgate as its own process.
//
// The binaries come from a directory (make builds them into _output/bin);
// runc, docker-registry and busybox from the system.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
)

// Env is a running environment.
type Env struct {
	Dir      string
	Bin      string
	Registry string // host:port images are named by (the proxy in front of the registry)
	Upstream string // host:port of the registry itself, without the proxy
	// Referrers is a second registry, olareg, that serves the OCI referrers
	// API (Debian's distribution 2.8 does not, so signatures there live
	// under fallback tags).
	Referrers      string
	MetricsAddr    string // signgate's metrics and health listener
	Proxy          *HangProxy
	SigngateLog    *LockedBuffer // signgate's stderr
	Notifications  *LockedBuffer // what signgate sent to systemd's NOTIFY_SOCKET, one line each
	ContainerdSock string
	NRISock        string
	Containerd     Containerd                 // the runtime under test and what it offers
	CosignDir      string                     // the real cosign CLI's key pair: cosign.key, cosign.pub
	Signers        map[string]*sigtest.Signer // library signers k1, k2, stranger; public keys in Dir/keys
	Notary         *sigtest.PKI               // a Notary Project PKI whose root is signgate's [certs.n1]
	Sigstore       *sigtest.Sigstore          // a keyless Sigstore in memory; its trusted root is signgate's [trust_roots.local]

	dropIn       string
	certsDir     string // registry hosts directory (hosts.toml per registry)
	node         bool
	notify       *net.UnixConn
	noGate       bool
	standIn      bool
	noNRI        bool
	preInstalled bool
	crio         bool   // CRI-O runs instead of containerd (crio.go)
	crioVersion  string // what its binary reports
	sg           *exec.Cmd
	sgDone       chan struct{} // closed when sg has exited
	ctd          *exec.Cmd
	procs        []*exec.Cmd
}

// FreePort is a loopback TCP port free now, for a helper to listen on.
func FreePort() (int, error) { return freePort() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Options shape the environment.
type Options struct {
	Bin string // containerd, containerd-shim-runc-v2, crictl, cosign, signgate
	// Containerd is a directory holding another containerd and its runc
	// shim to run instead of Bin's.
	Containerd string
	// SigngateConfig renders signgate's config for this environment; nil for
	// the suite's default.
	SigngateConfig func(*Env) string
	// DropIn is the containerd drop-in that makes the gate fail closed
	// (packaging/containerd/signgate.toml).
	DropIn string
	// NoGate runs containerd without signgate and without the drop-in
	// requiring it: a baseline for measuring what signgate adds. NRI stays on
	// unless NoNRI is set too.
	NoGate bool
	NoNRI  bool
	// StandIn keeps the drop-in but starts no signgate: a plugin in the
	// caller's process connects under signgate's name (for the bench's
	// floor under signgate's own containerd configuration).
	StandIn bool
	// PreInstalled lets containerd start signgate itself, as a pre-installed
	// NRI plugin (plugin_path/10-signgate), instead of running it apart.
	PreInstalled bool
	// Node makes containerd a Kubernetes node's: its socket, NRI socket and
	// registry hosts directory at the paths the shipped DaemonSet mounts
	// (/run/containerd/containerd.sock, /var/run/nri/nri.sock,
	// /etc/containerd/certs.d), and signgate left to run as a pod.
	Node bool
	// Runtime "crio" runs CRI-O (Bin's crio and pinns, Debian's conmon and
	// crun) instead of containerd: see crio.go.
	Runtime string
}

// Start brings everything up. On error the returned Env (if any) must still
// be torn down.
func Start(o Options) (*Env, error) {
	bin := o.Bin
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "sg-it-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, Bin: abs, SigngateLog: &LockedBuffer{}, Notifications: &LockedBuffer{}, Signers: map[string]*sigtest.Signer{}}
	e.noGate, e.noNRI, e.standIn = o.NoGate, o.NoNRI, o.StandIn
	ctdDir := abs
	if o.Containerd != "" {
		if ctdDir, err = filepath.Abs(o.Containerd); err != nil {
			return e, err
		}
	}
	e.crio = o.Runtime == RuntimeCRIO
	if !e.crio {
		if e.Containerd, err = DetectContainerd(ctdDir); err != nil {
			return e, err
		}
	}
	dropIn := DropInFor(o.DropIn, e.Containerd)
	if e.crio {
		dropIn = o.DropIn // packaging/crio/10-signgate.conf (crio.go)
	}
	if e.dropIn, err = filepath.Abs(dropIn); (err != nil || o.DropIn == "") && !o.NoGate {
		return e, fmt.Errorf("the runtime's drop-in is required (Options.DropIn)")
	}
	e.ContainerdSock = filepath.Join(dir, "containerd.sock")
	e.NRISock = filepath.Join(dir, "nri.sock")
	e.certsDir = filepath.Join(dir, "certs.d")
	if o.Node {
		e.node = true
		e.ContainerdSock, e.NRISock, e.certsDir = "/run/containerd/containerd.sock", "/var/run/nri/nri.sock", "/etc/containerd/certs.d"
		for _, s := range []string{e.ContainerdSock, e.NRISock} {
			if err := os.MkdirAll(filepath.Dir(s), 0o711); err != nil {
				return e, err
			}
			if c, err := net.Dial("unix", s); err == nil {
				c.Close()
				return e, fmt.Errorf("%s answers: another containerd runs on this machine", s)
			}
			_ = os.Remove(s)
		}
	}

	// The distribution registry, behind a proxy that can be told to hang.
	regPort, err := freePort()
	if err != nil {
		return e, err
	}
	regCfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\nlog:\n  level: error\n", dir, regPort)
	if err := os.WriteFile(filepath.Join(dir, "registry.yml"), []byte(regCfg), 0o600); err != nil {
		return e, err
	}
	if _, err := e.start("registry", "docker-registry", "serve", filepath.Join(dir, "registry.yml")); err != nil {
		return e, err
	}
	e.Upstream = fmt.Sprintf("127.0.0.1:%d", regPort)
	olaPort, err := freePort()
	if err != nil {
		return e, err
	}
	if _, err := e.start("olareg", filepath.Join(abs, "olareg"), "serve", "--addr", "127.0.0.1", "--port", fmt.Sprint(olaPort), "--store-type", "mem", "--api-delete"); err != nil {
		return e, err
	}
	e.Referrers = fmt.Sprintf("127.0.0.1:%d", olaPort)
	metricsPort, err := freePort()
	if err != nil {
		return e, err
	}
	e.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	if e.Proxy, err = newHangProxy(e.Upstream); err != nil {
		return e, err
	}
	e.Registry = e.Proxy.host
	for reg, what := range map[string]string{e.Registry: "registry", e.Referrers: "olareg"} {
		if err := WaitFor(10*time.Second, func() error {
			r, err := http.Get("http://" + reg + "/v2/")
			if err == nil {
				r.Body.Close()
			}
			return err
		}); err != nil {
			return e, fmt.Errorf("%s did not come up: %w", what, err)
		}
	}

	// The sandbox image, pinned, built here: busybox sleeping forever.
	if _, err := PushBusybox(e.Registry+"/pause:1.0", "sleep", "infinity"); err != nil {
		return e, fmt.Errorf("pushing sandbox image: %w", err)
	}

	// A real cosign key pair, for the CLI-signed cases.
	e.CosignDir = filepath.Join(dir, "cosign")
	if err := os.MkdirAll(e.CosignDir, 0o700); err != nil {
		return e, err
	}
	if out, err := e.Cosign(e.CosignDir, "generate-key-pair"); err != nil {
		return e, fmt.Errorf("cosign generate-key-pair: %v: %s", err, out)
	}
	if err := e.writeKeys(); err != nil {
		return e, err
	}

	// containerd reads the registry as plain HTTP through hosts.toml; signgate
	// is pointed at the same directory.
	for _, reg := range []string{e.Registry, e.Referrers} {
		hosts := filepath.Join(e.certsDir, reg)
		if err := os.MkdirAll(hosts, 0o755); err != nil {
			return e, err
		}
		if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", reg, reg)), 0o644); err != nil {
			return e, err
		}
	}
	if e.crio {
		return e, e.startCRIO(render(o))
	}
	if err := os.WriteFile(filepath.Join(dir, "containerd.toml"), []byte(containerdConfig(e)), 0o644); err != nil {
		return e, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "verifiers"), 0o755); err != nil {
		return e, err
	}
	if err := os.WriteFile(filepath.Join(dir, "signgate.toml"), []byte(render(o)(e)), 0o644); err != nil {
		return e, err
	}
	if o.PreInstalled {
		// containerd starts NRI plugins it finds in plugin_path itself.
		if err := os.MkdirAll(filepath.Join(dir, "nri-plugins"), 0o755); err != nil {
			return e, err
		}
		// containerd gives a plugin only NRI's own variables, so the config
		// path travels in a wrapper (a plain link uses /etc/signgate/config.toml).
		wrapper := fmt.Sprintf("#!/bin/sh\nexec %s run --config %s \"$@\" 2>>%s\n",
			filepath.Join(abs, "signgate"), filepath.Join(dir, "signgate.toml"), filepath.Join(dir, "signgate.log"))
		if err := os.WriteFile(filepath.Join(dir, "nri-plugins", "10-signgate"), []byte(wrapper), 0o755); err != nil {
			return e, err
		}
		e.preInstalled = true
	}
	if e.ctd, err = e.start("containerd", filepath.Join(e.Containerd.Dir, "containerd"), "--config", filepath.Join(dir, "containerd.toml")); err != nil {
		return e, err
	}
	if err := WaitFor(30*time.Second, func() error {
		_, err := e.Crictl("version")
		return err
	}); err != nil {
		return e, fmt.Errorf("containerd did not come up: %w", err)
	}
	if e.noGate || e.preInstalled || e.node || e.standIn {
		return e, nil
	}
	if err := e.StartSigngate(); err != nil {
		return e, err
	}
	return e, nil
}

func containerdConfig(e *Env) string {
	gated := containerdConfigGated
	if !e.Containerd.configV3() {
		gated = containerdConfigV2
	}
	if e.noGate {
		c := strings.Replace(gated(e), "imports = ", "# imports = ", 1)
		if e.noNRI {
			c = strings.Replace(c, "disable = false", "disable = true", 1)
		}
		return c
	}
	return gated(e)
}

// DropInFor is the drop-in signgate ships for this containerd: the 1.x
// configuration format (version 2) has its own, next to the 2.x one.
func DropInFor(dropIn string, c Containerd) string {
	if dropIn == "" || c.configV3() {
		return dropIn
	}
	return filepath.Join(filepath.Dir(dropIn), "signgate-1.7.toml")
}

// containerdConfigV2 is containerdConfigGated in containerd 1.7's format:
// one CRI plugin, the sandbox image by name, no image verifier. containerd
// 1.x lets an imported file replace a plugin's whole table, so the shipped
// drop-in's NRI table cannot be imported beside one naming the test's own
// socket: its lines are copied into this file's table instead.
func containerdConfigV2(e *Env) string {
	var dropIn []string
	if b, err := os.ReadFile(e.dropIn); err == nil && !e.noGate {
		in := false
		for _, l := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(t, "[plugins.\"io.containerd.nri.v1.nri\"]"):
				in = true
			case strings.HasPrefix(t, "["):
				in = false
			case in && t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "disable "):
				dropIn = append(dropIn, "  "+t)
			}
		}
	}
	return fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"

[grpc]
  address = "%[2]s"

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  restrict_oom_score_adj = true
  sandbox_image = "%[4]s/pause:1.0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "%[1]s/certs.d"

[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = "%[3]s"
  plugin_path = "%[1]s/nri-plugins"
  plugin_config_path = "%[1]s/nri-conf"
  plugin_registration_timeout = "5s"
  # from the drop-in (packaging/containerd/signgate-1.7.toml)
%[5]s
`, e.Dir, e.ContainerdSock, e.NRISock, e.Registry, strings.Join(dropIn, "\n"))
}

func containerdConfigGated(e *Env) string {
	return fmt.Sprintf(`version = 3
# The drop-in signgate ships: NRI on, the validator requiring signgate.
imports = [%[5]q]
root = "%[1]s/root"
state = "%[1]s/state"

[grpc]
  address = "%[2]s"

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  %[7]s
  # No CNI plugin here: pods share the node's network. A Kubernetes node
  # reports itself ready once a network config is in this directory.
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    conf_dir = "%[1]s/cni/net.d"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "runc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "%[4]s/pause:1.0"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "%[6]s"

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true

# The pull-time gate: containerd runs what is in bin_dir on every pull
# (empty until a test links signgate there).
[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = "%[1]s/verifiers"
  per_verifier_timeout = "10s"

[plugins.'io.containerd.nri.v1.nri']
  disable = false
  socket_path = "%[3]s"
  plugin_path = "%[1]s/nri-plugins"
  plugin_config_path = "%[1]s/nri-conf"
  plugin_registration_timeout = "5s"
`, e.Dir, e.ContainerdSock, e.NRISock, e.Registry, e.dropIn, e.certsDir, restoreViaCreate(e.Containerd))
}

// restoreViaCreate turns on what containerd 2.2 and 2.3 can do and a
// cluster may have on: restoring a checkpoint through CreateContainer
// (2.4 removed it), so that signgate's refusal is tested through it.
func restoreViaCreate(c Containerd) string {
	if c.AtLeast(2, 2) && !c.AtLeast(2, 4) {
		return "enable_experimental_restore_via_create = true"
	}
	return ""
}

// DefaultSigngateConfig is the integration suite's policy set.
func DefaultSigngateConfig(e *Env) string {
	k := func(n string) string { return filepath.Join(e.Dir, "keys", n+".pub") }
	return fmt.Sprintf(`[daemon]
nri_socket = %[1]q
containerd_socket = %[2]q
api_socket = %[8]q
metrics_address = %[9]q
decision_deadline = "1s"
state_dir = %[11]q

[registry]
hosts_dir = %[3]q
verify_timeout = "4s"

[cache]
deny_ttl = "1s"

[keys.k1]
path = %[4]q
[keys.k2]
path = %[5]q
[keys.cli]
path = %[6]q

[certs.n1]
path = %[10]q

[trust_roots.local]
path = %[13]q

[identities.release-workflow]
trust_root = "local"
issuer = "https://token.actions.githubusercontent.com"
subject_regexp = 'https://github\.com/org/app/\.github/workflows/release\.yml@refs/(heads|tags)/.+'

# The host directories the suite's in-test NRI plugins may bind (policy:
# a node under [policy_source] takes it from the artifact).
[added_mounts]
allowed_sources = [%[14]q]

[[policy]]
name = "sandbox"
scopes = ["%[7]s/pause"]
mode = "allow"

[[policy]]
name = "system"
scopes = ["%[7]s/system/*"]
namespaces = ["kube-system"]
mode = "allow"

[[policy]]
name = "audit"
scopes = ["%[7]s/audit/*"]
mode = "audit"
  [policy.cosign]
  keys = ["k1"]

[[policy]]
name = "dual"
scopes = ["%[7]s/dual/*"]
  [policy.cosign]
  keys = ["k1", "k2"]
  require = "all"

[[policy]]
name = "two-of-three"
scopes = ["%[7]s/count/*"]
  [policy.cosign]
  keys = ["k1", "k2", "cli"]
  require = "2"

[[policy]]
name = "notary"
scopes = ["%[7]s/notary/*"]
  [policy.notation]
  certs = ["n1"]

[[policy]]
name = "dualsig"
scopes = ["%[7]s/dualsig/*"]
signatures = "both"
  [policy.cosign]
  keys = ["k1"]
  [policy.notation]
  certs = ["n1"]

[[policy]]
name = "keyless"
scopes = ["%[7]s/keyless/*", "%[12]s/keyless/*"]
  [policy.cosign]
  identities = ["release-workflow"]

# A release signature and five attestations, as cosign attest makes them.
[[policy]]
name = "attested"
scopes = ["%[7]s/attested/*", "%[12]s/attested/*"]
  [policy.cosign]
  keys = ["cli"]
  [[policy.attestation]]
  name = "provenance"
  type = "slsaprovenance1"
  keys = ["cli"]
  builders = ["https://github.com/org/app/.github/workflows/build.yml@refs/heads/main"]
  source_repositories = ["https://github.com/org/app"]
  [[policy.attestation]]
  name = "cyclonedx"
  type = "cyclonedx"
  keys = ["cli"]
  [[policy.attestation]]
  name = "spdx"
  type = "spdxjson"
  keys = ["cli"]
  [[policy.attestation]]
  name = "scan"
  type = "vuln"
  keys = ["cli"]
  max_age = "24h"
  conditions = ['predicate.scanner.result.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))']
  [[policy.attestation]]
  name = "review"
  type = "custom"
  keys = ["cli"]
  conditions = ['predicate.Data.startsWith("approved by ")']

# Whose signatures count for an index (signed_manifest; apps: either).
[[policy]]
name = "index-signed"
scopes = ["%[7]s/signedon/index/*", "%[12]s/signedon/index/*"]
signed_manifest = "index"
  [policy.cosign]
  keys = ["cli"]

[[policy]]
name = "platform-signed"
scopes = ["%[7]s/signedon/platform/*", "%[12]s/signedon/platform/*"]
signed_manifest = "platform"
  [policy.cosign]
  keys = ["cli"]

# Both registries: distribution 2.8, and olareg (the referrers API).
[[policy]]
name = "apps"
scopes = ["%[7]s/**", "%[12]s/**"]
  [policy.cosign]
  keys = ["k1", "cli"]
  require = "any"
`, e.NRISock, e.ContainerdSock, filepath.Join(e.Dir, "certs.d"), k("k1"), k("k2"), filepath.Join(e.CosignDir, "cosign.pub"), e.Registry, e.APISocket(), e.MetricsAddr, filepath.Join(e.Dir, "keys", "n1.pem"), filepath.Join(e.Dir, "state"), e.Referrers, filepath.Join(e.Dir, "keys", "trusted_root.json"), e.ListedMounts())
}

// ListedMounts is the host directory the suite's config lists in
// [added_mounts] allowed_sources: what an in-test plugin may bind. It
// lies beside e.Dir, not in it: signgate refuses to list what lies in
// its config's directory.
func (e *Env) ListedMounts() string { return e.Dir + "-listed" }

func (e *Env) StartSigngate() error {
	e.SigngateLog.Write([]byte("--- signgate start ---\n"))
	if err := e.listenNotify(); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(e.Bin, "signgate"), "run", "--config", filepath.Join(e.Dir, "signgate.toml"))
	cmd.Stdout, cmd.Stderr = e.SigngateLog, e.SigngateLog
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(e.Dir, "notify.sock"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	e.sg = cmd
	done := make(chan struct{})
	e.sgDone = done
	go func() { _ = cmd.Wait(); close(done) }()
	return WaitFor(15*time.Second, func() error {
		if !strings.Contains(e.SigngateLog.String()[strings.LastIndex(e.SigngateLog.String(), "--- signgate start"):], "connected to NRI") {
			return fmt.Errorf("signgate not connected yet")
		}
		return nil
	})
}

// ReloadSigngate writes config as signgate's config, sends SIGHUP and waits
// for signgate to say whether it took it. It reports whether it did.
func (e *Env) ReloadSigngate(config string) (bool, error) {
	if err := os.WriteFile(filepath.Join(e.Dir, "signgate.toml"), []byte(config), 0o644); err != nil {
		return false, err
	}
	count := func() (int, int) {
		l := e.SigngateLog.String()
		return strings.Count(l, `msg="reloaded config"`), strings.Count(l, `msg="reload refused`)
	}
	ok0, bad0 := count()
	if err := e.sg.Process.Signal(syscall.SIGHUP); err != nil {
		return false, err
	}
	var took bool
	err := WaitFor(10*time.Second, func() error {
		ok, bad := count()
		switch {
		case ok > ok0:
			took = true
			return nil
		case bad > bad0:
			return nil
		}
		return fmt.Errorf("signgate did not report on the reload")
	})
	return took, err
}

// RestartContainerd stops containerd and starts it again, leaving signgate
// to notice and reconnect by itself.
func (e *Env) RestartContainerd() error {
	if err := e.ctd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for e.ctd.ProcessState == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if err := e.ctd.Process.Signal(syscall.Signal(0)); err != nil {
			break
		}
	}
	var err error
	if e.ctd, err = e.start("containerd", filepath.Join(e.Containerd.Dir, "containerd"), "--config", filepath.Join(e.Dir, "containerd.toml")); err != nil {
		return err
	}
	return WaitFor(30*time.Second, func() error {
		_, err := e.Crictl("version")
		return err
	})
}

// listenNotify plays systemd's side of Type=notify: a unixgram socket at
// Dir/notify.sock, its messages appended to Notifications.
func (e *Env) listenNotify() error {
	if e.notify != nil {
		return nil
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(e.Dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		return err
	}
	e.notify = conn
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			e.Notifications.Write(append(append([]byte{}, buf[:n]...), '\n'))
		}
	}()
	return nil
}

// APISocket is where signgate answers the image verifier.
func (e *Env) APISocket() string { return filepath.Join(e.Dir, "signgate-api.sock") }

// PullGate installs (or removes) signgate's image verifier in containerd's
// verifier directory: a link named signgate to signgate-image-verifier, as
// docs/install.md has it. containerd lists the directory on every pull.
func (e *Env) PullGate(on bool) error {
	link := filepath.Join(e.Dir, "verifiers", "signgate")
	_ = os.Remove(link)
	if !on {
		return nil
	}
	return os.Symlink(filepath.Join(e.Bin, "signgate-image-verifier"), link)
}

// PauseSigngate stops signgate's process in its tracks (SIGSTOP), as a
// wedged daemon would be; ResumeSigngate lets it go on.
func (e *Env) PauseSigngate() error  { return e.sg.Process.Signal(syscall.SIGSTOP) }
func (e *Env) ResumeSigngate() error { return e.sg.Process.Signal(syscall.SIGCONT) }

// SigngateConfig returns the config signgate runs with now.
func (e *Env) SigngateConfig() string {
	b, _ := os.ReadFile(filepath.Join(e.Dir, "signgate.toml"))
	return string(b)
}

// RestartSigngate writes config as signgate's config and starts signgate
// anew with it, and with the test process's environment as it is now.
func (e *Env) RestartSigngate(config string) error {
	e.KillSigngate()
	if err := os.WriteFile(filepath.Join(e.Dir, "signgate.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	return e.StartSigngate()
}

// StateDir is signgate's state directory.
func (e *Env) StateDir() string { return filepath.Join(e.Dir, "state") }

// StopSigngate stops signgate as systemd and the kubelet do (SIGTERM) and
// waits for it to exit.
func (e *Env) StopSigngate() error {
	if e.sg == nil || e.sg.Process == nil {
		return nil
	}
	if err := e.sg.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-e.sgDone:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("signgate did not exit within 15s of SIGTERM")
	}
}

func (e *Env) KillSigngate() {
	if e.sg != nil && e.sg.Process != nil {
		_ = e.sg.Process.Kill()
		time.Sleep(200 * time.Millisecond)
	}
}

// StartProcess runs a helper for the rest of the suite (stopped by Stop),
// its output in Dir/NAME.log.
func (e *Env) StartProcess(name, bin string, args ...string) (*exec.Cmd, error) {
	return e.start(name, bin, args...)
}

// start runs a helper process for the whole suite, its output in dir/NAME.log.
func (e *Env) start(name, bin string, args ...string) (*exec.Cmd, error) {
	return e.startEnv(name, bin, nil, args...)
}

// startEnv is start with env added to the environment (a later value of a
// key replaces an earlier one).
func (e *Env) startEnv(name, bin string, env []string, args ...string) (*exec.Cmd, error) {
	f, err := os.OpenFile(filepath.Join(e.Dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// SIGNGATE_API_SOCKET reaches the image verifier containerd runs.
	cmd.Env = append(os.Environ(), "PATH="+e.Containerd.Dir+":"+e.Bin+":"+os.Getenv("PATH"), "SIGNGATE_API_SOCKET="+e.APISocket())
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	e.procs = append(e.procs, cmd)
	go func() { _ = cmd.Wait(); f.Close() }()
	return cmd, nil
}

// Stop tears everything down; a containerd shim of this env that
// outlived it (teardown.go) is killed and named on stderr, failing
// nothing: one shim outlived a whole green suite on 2.2 in CI once, its
// cause unseen (the message now says whether containerd still recorded
// its container, and what it ran). TestTeardownLeavesNoShim checks
// teardown itself with StopStrict.
func (e *Env) Stop() { _ = e.stopChecked(false) }

// StopStrict is Stop failing on any shim left: for the test that a
// refused sandbox leaves none.
func (e *Env) StopStrict() error { return e.stopChecked(true) }

func (e *Env) stopChecked(strict bool) error {
	// Pods first, so runc leaves no containers behind.
	if out, err := e.Crictl("rmp", "-fa"); err != nil {
		fmt.Fprintf(os.Stderr, "crictl rmp: %v %s\n", err, out)
	}
	// Then every task CRI does not know of (a refused sandbox's, before
	// containerd 2.2), while containerd still runs to stop its shims.
	var known map[string]bool
	if !e.crio && e.ctd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.killTasks(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "killing containerd's tasks: %v\n", err)
		}
		var err error
		if known, err = e.knownContainers(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "listing containerd's containers: %v\n", err)
		}
		cancel()
	}
	e.KillSigngate()
	if e.node {
		for _, reg := range []string{e.Registry, e.Referrers} {
			_ = os.RemoveAll(filepath.Join(e.certsDir, reg))
		}
	}
	for i := len(e.procs) - 1; i >= 0; i-- {
		if p := e.procs[i].Process; p != nil {
			_ = p.Signal(syscall.SIGTERM)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, c := range e.procs {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	left := e.shimsLeft(known)
	if e.Proxy != nil {
		e.Proxy.srv.Close()
	}
	// overlay mounts under root/ must go before the directory can.
	_ = exec.Command("sh", "-c", "grep "+e.Dir+" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l").Run()
	if os.Getenv("SIGNGATE_KEEP") == "" {
		_ = os.RemoveAll(e.Dir)
		_ = os.RemoveAll(e.ListedMounts())
	}
	if len(left) > 0 {
		err := fmt.Errorf("containerd shims outlived the environment (killed now): %s", strings.Join(left, "; "))
		if strict {
			return err
		}
		fmt.Fprintln(os.Stderr, "teardown:", err)
	}
	return nil
}

func (e *Env) Dump() {
	fmt.Fprintf(os.Stderr, "=== signgate log ===\n%s\n", e.SigngateLog.String())
	if e.crio {
		fmt.Fprintf(os.Stderr, "=== CRI-O log (tail) ===\n%s\n", e.crioLogTail())
	}
	if b, err := os.ReadFile(filepath.Join(e.Dir, "containerd.log")); err == nil {
		lines := strings.Split(string(b), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		fmt.Fprintf(os.Stderr, "=== containerd log (tail) ===\n%s\n", strings.Join(lines, "\n"))
	}
}

func (e *Env) Crictl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--runtime-endpoint", "unix://" + e.ContainerdSock, "--image-endpoint", "unix://" + e.ContainerdSock, "--timeout", "30s"}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(e.Bin, "crictl"), full...)
	cmd.Env = append(os.Environ(), "CRI_CONFIG_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (e *Env) Cosign(dir string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.Bin, "cosign"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+e.Dir, "TUF_ROOT="+filepath.Join(e.Dir, "tuf"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func WaitFor(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// HangProxy forwards to the registry, except that signgate's requests (by
// their User-Agent) for a chosen repository hang until signgate gives up: a
// registry that accepts connections and never answers signgate, while
// containerd still pulls and tests still push.
type HangProxy struct {
	host string
	srv  *http.Server
	hang atomic.Pointer[string] // repository path prefix, e.g. "/v2/slow/"
	loop atomic.Pointer[string] // likewise, for requests redirected to themselves
	slow atomic.Pointer[delay]  // likewise, for requests answered late
	held atomic.Pointer[held]   // likewise, for requests held until released
	// Looped counts the requests answered with a redirect loop; LoopHops is
	// the most redirects one chain of them followed (a redirect carries its
	// chain's count as ?hop=N).
	Looped     atomic.Int64
	LoopHops   atomic.Int64
	LoopChains atomic.Int64 // requests that entered the loop (followed none yet)
	mu         sync.Mutex
	seen       []string // the paths of signgate's requests, in order
}

func newHangProxy(target string) (*HangProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the registry is probed before it listens
	p := &HangProxy{host: l.Addr().String()}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.UserAgent(), "signgate") {
			p.mu.Lock()
			p.seen = append(p.seen, r.URL.Path)
			p.mu.Unlock()
		}
		if h := p.hang.Load(); h != nil && strings.HasPrefix(r.URL.Path, *h) && strings.Contains(r.UserAgent(), "signgate") {
			<-r.Context().Done()
			return
		}
		if h := p.held.Load(); h != nil && strings.HasPrefix(r.URL.Path, h.prefix) && strings.Contains(r.UserAgent(), "signgate") {
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
		}
		if d := p.slow.Load(); d != nil && strings.HasPrefix(r.URL.Path, d.prefix) && strings.Contains(r.UserAgent(), "signgate") {
			select {
			case <-time.After(d.by):
			case <-r.Context().Done():
				return
			}
		}
		if l := p.loop.Load(); l != nil && strings.HasPrefix(r.URL.Path, *l) && strings.Contains(r.UserAgent(), "signgate") {
			// Each hop says how many redirects its chain has followed.
			p.Looped.Add(1)
			hop, _ := strconv.ParseInt(r.URL.Query().Get("hop"), 10, 64)
			if hop == 0 {
				p.LoopChains.Add(1)
			}
			for {
				if most := p.LoopHops.Load(); hop <= most || p.LoopHops.CompareAndSwap(most, hop) {
					break
				}
			}
			http.Redirect(w, r, fmt.Sprintf("%s?hop=%d", r.URL.Path, hop+1), http.StatusFound)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Loop makes signgate's requests for repo redirect to themselves forever;
// "" stops it.
func (p *HangProxy) Loop(repo string) {
	if repo == "" {
		p.loop.Store(nil)
		return
	}
	s := "/v2/" + repo + "/"
	p.loop.Store(&s)
}

// SigngateRequests are the paths of the requests signgate (by its
// User-Agent) has made for repo through the proxy, in order.
func (p *HangProxy) SigngateRequests(repo string) []string {
	prefix := "/v2/" + repo + "/"
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, strings.TrimPrefix(s, prefix))
		}
	}
	return out
}

type held struct {
	prefix  string
	release chan struct{}
}

// Hold keeps signgate's requests for repo (and the repositories under it)
// unanswered until the returned func is called, which answers them and
// every later one: a verification kept in flight as long as a test needs.
func (p *HangProxy) Hold(repo string) (release func()) {
	h := &held{prefix: "/v2/" + repo + "/", release: make(chan struct{})}
	p.held.Store(h)
	var once sync.Once
	return func() {
		once.Do(func() {
			p.held.CompareAndSwap(h, nil)
			close(h.release)
		})
	}
}

type delay struct {
	prefix string
	by     time.Duration
}

// Delay answers signgate's requests for repo only after d: a slow registry
// that still answers. "" stops it.
func (p *HangProxy) Delay(repo string, d time.Duration) {
	if repo == "" {
		p.slow.Store(nil)
		return
	}
	p.slow.Store(&delay{prefix: "/v2/" + repo + "/", by: d})
}

func (p *HangProxy) Hang(repo string) {
	if repo == "" {
		p.hang.Store(nil)
		return
	}
	s := "/v2/" + repo + "/"
	p.hang.Store(&s)
}

// SigngatePID is the running signgate's process ID (0 when none).
func (e *Env) SigngatePID() int {
	if e.sg == nil || e.sg.Process == nil {
		return 0
	}
	return e.sg.Process.Pid
}
