package kubecheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	appsv1 "k8s.io/api/apps/v1"
)

// With runtime: crio the chart mounts CRI-O's storage and config read-only
// instead of containerd's socket and config, and the config it renders
// reads CRI-O's storage there and passes check-config; a runtime it does
// not know fails the render.
func TestChartOnCRIO(t *testing.T) {
	objs := render(t, "--set", "runtime=crio", "--set", "crioStorage.root=/srv/storage")
	var ds appsv1.DaemonSet
	strict(t, objs["DaemonSet/signgate"], &ds)
	mounts := map[string]bool{}
	for _, m := range ds.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m.ReadOnly
	}
	for _, p := range []string{"/srv/storage", "/run/containers/storage", "/etc/crio"} {
		if ro, ok := mounts[p]; !ok || !ro {
			t.Errorf("%s: mounted %v, read-only %v", p, ok, ro)
		}
	}
	for _, p := range []string{"/run/containerd/containerd.sock", "/etc/containerd"} {
		if _, ok := mounts[p]; ok {
			t.Errorf("containerd's %s is mounted on a CRI-O node", p)
		}
	}
	data, _ := objs["ConfigMap/signgate-config"]["data"].(map[string]any)
	cfg, _ := data["config.toml"].(string)
	var c struct {
		Daemon struct {
			Runtime struct {
				Name    string `toml:"name"`
				Root    string `toml:"crio_storage_root"`
				RunRoot string `toml:"crio_storage_run_root"`
				Config  string `toml:"crio_config"`
				ConfDir string `toml:"crio_config_dir"`
			} `toml:"runtime"`
		} `toml:"daemon"`
	}
	if _, err := toml.Decode(cfg, &c); err != nil {
		t.Fatal(err)
	}
	// CRI-O's files, read for enable_criu_support, under the read-only
	// /etc/crio mount.
	if r := c.Daemon.Runtime; r.Config != "/etc/crio/crio.conf" || r.ConfDir != "/etc/crio/crio.conf.d" {
		t.Errorf("[daemon.runtime] crio_config %q, crio_config_dir %q: not the mounted /etc/crio's", r.Config, r.ConfDir)
	}
	if r := c.Daemon.Runtime; r.Name != "crio" || r.Root != "/srv/storage" || r.RunRoot != "/run/containers/storage" {
		t.Errorf("[daemon.runtime] %+v", r)
	}
	checkConfigText(t, cfg, nil)

	out, err := helmErr("template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion, "--set", "runtime=podman")
	if err == nil || !strings.Contains(out, `runtime = "podman": containerd, crio or auto`) {
		t.Errorf("runtime=podman rendered: %v\n%s", err, out)
	}
}

// The CRI-O drop-in for DaemonSet nodes is the systemd one, plus the
// bootstrap annotation that lets signgate's own pods start.
func TestCRIODaemonSetDropIn(t *testing.T) {
	type validator struct {
		Enable   bool     `toml:"nri_enable_default_validator"`
		Required []string `toml:"nri_validator_required_plugins"`
		Tolerate string   `toml:"nri_validator_tolerate_missing_plugins_annotation"`
	}
	read := func(p string) validator {
		var c struct {
			Crio struct {
				Runtime struct {
					CRIU *bool `toml:"enable_criu_support"`
				} `toml:"runtime"`
				Image struct {
					Artifacts *bool `toml:"oci_artifact_mount_support"`
				} `toml:"image"`
				NRI struct {
					Enable    bool      `toml:"enable_nri"`
					Validator validator `toml:"default_validator"`
				} `toml:"nri"`
			} `toml:"crio"`
		}
		if _, err := toml.DecodeFile(p, &c); err != nil {
			t.Fatal(err)
		}
		if !c.Crio.NRI.Enable {
			t.Errorf("%s: NRI not enabled", p)
		}
		// A restore's files and memory are put in where NRI never looks.
		if c.Crio.Runtime.CRIU == nil || *c.Crio.Runtime.CRIU {
			t.Errorf("%s: CRI-O's checkpoint restore (enable_criu_support) not turned off", p)
		}
		// An OCI artifact volume's files are mounted unverified.
		if c.Crio.Image.Artifacts == nil || *c.Crio.Image.Artifacts {
			t.Errorf("%s: CRI-O's OCI artifact volumes (oci_artifact_mount_support) not turned off", p)
		}
		return c.Crio.NRI.Validator
	}
	host, ds := read("../../crio/10-signgate.conf"), read("../../kubernetes/crio-daemonset.conf")
	if !host.Enable || strings.Join(host.Required, ",") != "signgate" || host.Tolerate != "" {
		t.Errorf("packaging/crio/10-signgate.conf: %+v", host)
	}
	if !ds.Enable || strings.Join(ds.Required, ",") != "signgate" || ds.Tolerate != "signgate.dev/bootstrap" {
		t.Errorf("packaging/kubernetes/crio-daemonset.conf: %+v", ds)
	}
}

// helmErr runs helm (SIGNGATE_HELM, which render checked) for a render
// that should fail.
func helmErr(args ...string) (string, error) {
	out, err := exec.Command(os.Getenv("SIGNGATE_HELM"), args...).CombinedOutput()
	return string(out), err
}
