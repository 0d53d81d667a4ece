package kubecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// podOf renders the chart with sets and returns the DaemonSet's pod
// (strictly decoded) and its config.toml.
func podOf(t *testing.T, sets ...string) (corev1.PodSpec, string) {
	t.Helper()
	var args []string
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	objs := render(t, args...)
	var ds appsv1.DaemonSet
	strict(t, objs["DaemonSet/signgate"], &ds)
	data, _ := objs["ConfigMap/signgate-config"]["data"].(map[string]any)
	cfg, _ := data["config.toml"].(string)
	return ds.Spec.Template.Spec, cfg
}

// mountOf is the pod's mount at path and the host path of its volume.
func mountOf(spec corev1.PodSpec, path string) (*corev1.VolumeMount, *corev1.HostPathVolumeSource) {
	for _, m := range spec.Containers[0].VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name {
				return &m, v.HostPath
			}
		}
		return &m, nil
	}
	return nil, nil
}

type runtimeConfig struct {
	Daemon struct {
		ContainerdSocket string `toml:"containerd_socket"`
		Runtime          struct {
			Name       string `toml:"name"`
			CRIOSocket string `toml:"crio_socket"`
		} `toml:"runtime"`
	} `toml:"daemon"`
	Registry struct {
		HostsDir string `toml:"hosts_dir"`
	} `toml:"registry"`
}

func decodeRuntime(t *testing.T, cfg string) runtimeConfig {
	t.Helper()
	var c runtimeConfig
	if _, err := toml.Decode(cfg, &c); err != nil {
		t.Fatalf("config.toml: %v\n%s", err, cfg)
	}
	return c
}

// With runtime crio or auto the pod mounts the directory of CRI-O's CRI
// socket (crioSocket.path) at the same path, read-only, and the config
// names the socket as crio_socket: the socket signgate stops a container
// through and doctor asks CRI-O's running config on. The directory, not
// the socket, so a restarted CRI-O's new socket is seen. With containerd
// neither is rendered.
func TestChartMountsCRIOSocket(t *testing.T) {
	for _, c := range []struct {
		runtime, path, dir string
		hostType           corev1.HostPathType
	}{
		{"crio", "", "/var/run/crio", corev1.HostPathDirectory},
		{"crio", "/run/crio-custom/crio.sock", "/run/crio-custom", corev1.HostPathDirectory},
		{"auto", "", "/var/run/crio", corev1.HostPathDirectoryOrCreate},
	} {
		sets := []string{"runtime=" + c.runtime}
		sock := "/var/run/crio/crio.sock"
		if c.path != "" {
			sets, sock = append(sets, "crioSocket.path="+c.path), c.path
		}
		spec, cfg := podOf(t, sets...)
		m, hp := mountOf(spec, c.dir)
		if m == nil || hp == nil || !m.ReadOnly || hp.Path != c.dir || hp.Type == nil || *hp.Type != c.hostType {
			t.Errorf("%v: CRI-O's socket directory %s: mount %+v, host path %+v; want read-only, %s", sets, c.dir, m, hp, c.hostType)
		}
		if rt := decodeRuntime(t, cfg).Daemon.Runtime; rt.Name != c.runtime || rt.CRIOSocket != sock {
			t.Errorf("%v: [daemon.runtime] %+v; want name %q, crio_socket %q", sets, rt, c.runtime, sock)
		}
		checkConfigText(t, cfg, nil)
	}

	spec, cfg := podOf(t)
	for _, v := range spec.Volumes {
		if v.HostPath != nil && strings.Contains(v.HostPath.Path, "crio") {
			t.Errorf("containerd: CRI-O's %s is mounted", v.HostPath.Path)
		}
	}
	if strings.Contains(cfg, "crio") {
		t.Errorf("containerd: the config speaks of CRI-O:\n%s", cfg)
	}

	out, err := helmErr("template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion, "--set", "runtime=crio", "--set", "crioSocket.path=crio.sock")
	if err == nil || !strings.Contains(out, `crioSocket.path = "crio.sock"`) {
		t.Errorf("a relative crioSocket.path rendered: %v\n%s", err, out)
	}
}

// crioSocket.mount=false is the opt-out for who does not want signgate's
// pod to hold CRI-O's CRI: nothing of it is mounted or named, and a stop
// policy is then refused by the config check (it could not be carried
// out), while with the socket mounted the same policy loads.
func TestChartCRIOSocketOptOut(t *testing.T) {
	stop := `config.policies=[[policy]]
name = "stoppable"
scopes = ["registry.example.com/**"]
on_untrusted_running = "stop"
  [policy.cosign]
  keys = ["placeholder"]
`
	spec, cfg := podOf(t, "runtime=crio", "crioSocket.mount=false", stop)
	if m, _ := mountOf(spec, "/var/run/crio"); m != nil {
		t.Errorf("crioSocket.mount=false: /var/run/crio mounted: %+v", m)
	}
	if rt := decodeRuntime(t, cfg).Daemon.Runtime; rt.Name != "crio" || rt.CRIOSocket != "" {
		t.Errorf("crioSocket.mount=false: [daemon.runtime] %+v", rt)
	}
	bin := os.Getenv("SIGNGATE_BIN")
	if bin == "" {
		skip(t, "SIGNGATE_BIN is not set: the embedded config is not checked")
	}
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check-config", "--config", p).CombinedOutput(); err == nil || !strings.Contains(string(out), "crio_socket names none") {
		t.Errorf("a stop policy without CRI-O's socket passed check-config (%v):\n%s", err, out)
	}
	_, cfg = podOf(t, "runtime=crio", stop)
	checkConfigText(t, cfg, nil)
}

// runtime auto mounts both runtimes' paths, as a node may run either:
// none with a hostPath type that needs it to exist (containerd's socket
// becomes its directory), and the config names both, under name = "auto".
func TestChartAutoRuntime(t *testing.T) {
	spec, cfg := podOf(t, "runtime=auto")
	for _, p := range []string{"/var/lib/containers/storage", "/run/containers/storage", "/etc/crio", "/var/run/crio", "/run/containerd", "/etc/containerd"} {
		m, hp := mountOf(spec, p)
		if m == nil || hp == nil || !m.ReadOnly || hp.Type == nil || *hp.Type != corev1.HostPathDirectoryOrCreate {
			t.Errorf("auto: %s: mount %+v, host path %+v; want read-only, DirectoryOrCreate", p, m, hp)
		}
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathSocket {
			t.Errorf("auto: %s must exist as a socket, which on the other runtime's nodes it does not", v.HostPath.Path)
		}
	}
	c := decodeRuntime(t, cfg)
	if c.Daemon.Runtime.Name != "auto" || c.Daemon.ContainerdSocket != "/run/containerd/containerd.sock" || c.Daemon.Runtime.CRIOSocket != "/var/run/crio/crio.sock" || c.Registry.HostsDir != "/etc/containerd/certs.d" {
		t.Errorf("auto: config %+v", c)
	}
	checkConfigText(t, cfg, nil)
}

// The notes say how to run doctor in the pod on CRI-O, and under auto name
// both runtimes' drop-ins.
func TestChartNotesOnCRIO(t *testing.T) {
	crio := notes(t, "runtime=crio")
	if !strings.Contains(crio, "exec POD -- signgate doctor") || strings.Contains(crio, "containerd-daemonset.toml") {
		t.Errorf("runtime=crio notes:\n%s", crio)
	}
	if off := notes(t, "runtime=crio", "crioSocket.mount=false"); !strings.Contains(off, "fails-closed is unknown") {
		t.Errorf("crioSocket.mount=false notes do not say doctor cannot judge fails-closed in the pod:\n%s", off)
	}
	auto := notes(t, "runtime=auto")
	if !strings.Contains(auto, "crio-daemonset.conf") || !strings.Contains(auto, "containerd-daemonset.toml") {
		t.Errorf("runtime=auto notes do not name both drop-ins:\n%s", auto)
	}
}

// doctor in the pod checks that only root can add a plugin to CRI-O's
// nri_plugin_dir: the chart mounts it read-only (crioNRIPluginDir) for
// crio and auto, or doctor would find none in the pod and say it holds.
func TestChartMountsCRIONRIPluginDir(t *testing.T) {
	for _, sets := range [][]string{{"runtime=crio"}, {"runtime=auto"}, {"runtime=crio", "crioNRIPluginDir=/etc/nri/plugins"}} {
		want := "/opt/nri/plugins"
		if len(sets) > 1 {
			want = "/etc/nri/plugins"
		}
		spec, _ := podOf(t, sets...)
		m, hp := mountOf(spec, want)
		if m == nil || hp == nil || !m.ReadOnly || hp.Path != want {
			t.Errorf("%v: nri_plugin_dir %s: mount %+v, host path %+v; want read-only, same path", sets, want, m, hp)
		}
	}
	spec, _ := podOf(t)
	if m, _ := mountOf(spec, "/opt/nri/plugins"); m != nil {
		t.Errorf("containerd: CRI-O's nri_plugin_dir mounted: %+v", m)
	}
}

// A path is judged as it is mounted, cleaned: "/run/../crio.sock" is
// /crio.sock, whose directory is the node's root, and "/opt/.." as
// crioNRIPluginDir is the node's root too; neither renders.
func TestChartCRIOPathsJudgedCleaned(t *testing.T) {
	for _, set := range []string{"crioSocket.path=/run/../crio.sock", "crioSocket.path=/run/crio/../../crio.sock", "crioNRIPluginDir=/opt/..", "crioNRIPluginDir=/"} {
		out, err := helmErr("template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion, "--set", "runtime=crio", "--set", set)
		if err == nil {
			t.Errorf("%s rendered a mount of the node's root directory", set)
		} else if !strings.Contains(out, "want the absolute path") {
			t.Errorf("%s: refused without saying why: %v\n%s", set, err, out)
		}
	}
}
