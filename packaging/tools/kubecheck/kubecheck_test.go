// Package kubecheck validates signgate's Kubernetes manifests offline: each
// document is decoded strictly into the real Kubernetes API types (an
// unknown or misspelt field, a wrong type, is an error), then checked for
// what a node agent must have. The embedded signgate config is checked by
// `signgate check-config` (SIGNGATE_BIN).
package kubecheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const manifests = "../../kubernetes/signgate.yaml"

func docs(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(b []byte) []byte {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func TestManifestsDecodeStrictly(t *testing.T) {
	var ds *appsv1.DaemonSet
	var cm *corev1.ConfigMap
	kinds := map[string]int{}
	for i, d := range docs(t) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(d, &tm); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1/ConfigMap":
			cm = &corev1.ConfigMap{}
			obj = cm
		case "apps/v1/DaemonSet":
			ds = &appsv1.DaemonSet{}
			obj = ds
		case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":
			obj = &admissionv1.ValidatingAdmissionPolicy{}
		case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding":
			obj = &admissionv1.ValidatingAdmissionPolicyBinding{}
		default:
			t.Fatalf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(d, obj); err != nil {
			t.Errorf("document %d (%s): %v", i, tm.Kind, err)
		}
		kinds[tm.Kind]++
	}
	if ds == nil || cm == nil || kinds["ValidatingAdmissionPolicy"] != 1 || kinds["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Fatalf("missing documents: %v", kinds)
	}
	checkDaemonSet(t, ds)
	checkConfig(t, cm)
}

func checkDaemonSet(t *testing.T, ds *appsv1.DaemonSet) {
	spec := ds.Spec.Template.Spec
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template", k, v)
		}
	}
	if !spec.HostNetwork {
		t.Error("the DaemonSet is not hostNetwork: its sandbox would wait for the CNI, whose pod waits for signgate")
	}
	if spec.DNSPolicy != corev1.DNSDefault {
		t.Errorf("dnsPolicy = %q, want Default: cluster DNS needs kube-proxy, the CNI and CoreDNS, which signgate must admit first (registry lookups would fail at boot)", spec.DNSPolicy)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q", spec.PriorityClassName)
	}
	tolerated := false
	for _, tol := range spec.Tolerations {
		tolerated = tolerated || (tol.Operator == corev1.TolerationOpExists && tol.Key == "")
	}
	if !tolerated {
		t.Error("the DaemonSet does not tolerate every taint")
	}
	if ds.Spec.Template.Annotations["signgate.dev/bootstrap"] != "true" {
		t.Error("the pod lacks the bootstrap annotation the DaemonSet drop-in tolerates")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	c := spec.Containers[0]
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("volumeMount %s has no volume", m.Name)
		}
	}
	for name, path := range map[string]string{"nri": "/var/run/nri", "containerd-sock": "/run/containerd/containerd.sock"} {
		if hp := volumes[name].HostPath; hp == nil || hp.Path != path {
			t.Errorf("volume %s should mount the host's %s", name, path)
		}
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.Exec == nil {
		t.Error("no readiness probe")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the container should be read-only and unable to escalate")
	}
}

func checkConfig(t *testing.T, cm *corev1.ConfigMap) {
	cfg, ok := cm.Data["config.toml"]
	if !ok {
		t.Fatal("the ConfigMap has no config.toml")
	}
	// The shipped config audits only, with a placeholder key: valid, but
	// check-config must say both loudly.
	checkConfigText(t, cfg, []string{"WARNING: no policy enforces", "WARNING: keys.placeholder is the packaged placeholder key"})
}

// checkConfigText runs signgate check-config on cfg, which must pass and
// say each of warnings.
func checkConfigText(t *testing.T, cfg string, warnings []string) {
	t.Helper()
	bin := os.Getenv("SIGNGATE_BIN")
	if bin == "" {
		skip(t, "SIGNGATE_BIN is not set: the embedded config is not checked")
	}
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check-config", "--config", p).CombinedOutput()
	if err != nil {
		t.Fatalf("config.toml: %v\n%s\n%s", err, out, cfg)
	}
	for _, want := range warnings {
		if !strings.Contains(string(out), want) {
			t.Errorf("check-config on the ConfigMap's config.toml does not warn %q:\n%s", want, out)
		}
	}
}

func TestDaemonSetDropIn(t *testing.T) {
	var c struct {
		Plugins map[string]struct {
			DefaultValidator struct {
				Enable          bool     `toml:"enable"`
				RequiredPlugins []string `toml:"required_plugins"`
				Tolerate        string   `toml:"tolerate_missing_plugins_annotation"`
			} `toml:"default_validator"`
		} `toml:"plugins"`
	}
	if _, err := toml.DecodeFile("../../kubernetes/containerd-daemonset.toml", &c); err != nil {
		t.Fatal(err)
	}
	v := c.Plugins["io.containerd.nri.v1.nri"].DefaultValidator
	if !v.Enable || len(v.RequiredPlugins) != 1 || v.RequiredPlugins[0] != "signgate" || v.Tolerate != "signgate.dev/bootstrap" {
		t.Fatalf("drop-in: %+v", v)
	}
}
