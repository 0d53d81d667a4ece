package kubecheck

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// podPullSecrets grants exactly get on pods and secrets (serviceaccounts
// only when asked for), never list or watch, to signgate's own service
// account, mounts its token, and writes [registry.pod_pull_secrets]; off,
// none of it is rendered.
func TestChartPodPullSecrets(t *testing.T) {
	off := render(t)
	for k := range off {
		if strings.HasPrefix(k, "ClusterRole") {
			t.Errorf("off, the chart renders %s", k)
		}
	}
	for _, sa := range []bool{false, true} {
		set := "podPullSecrets.enabled=true,podPullSecrets.apiServer=https://10.1.2.3:6443"
		want := []string{"pods", "secrets"}
		if sa {
			set += ",podPullSecrets.ofServiceAccount=true"
			want = append(want, "serviceaccounts")
		}
		objs := render(t, "--set", set)
		var role rbacv1.ClusterRole
		strict(t, objs["ClusterRole/signgate-pod-pull-secrets"], &role)
		if len(role.Rules) != 1 || !reflect.DeepEqual(role.Rules[0].Verbs, []string{"get"}) || !reflect.DeepEqual(role.Rules[0].Resources, want) ||
			!reflect.DeepEqual(role.Rules[0].APIGroups, []string{""}) || len(role.Rules[0].ResourceNames) != 0 {
			t.Errorf("serviceAccount=%v: rules %+v, want get on %v", sa, role.Rules, want)
		}
		var bind rbacv1.ClusterRoleBinding
		strict(t, objs["ClusterRoleBinding/signgate-pod-pull-secrets"], &bind)
		if bind.RoleRef.Name != role.Name || len(bind.Subjects) != 1 || bind.Subjects[0].Kind != "ServiceAccount" || bind.Subjects[0].Name != "signgate" || bind.Subjects[0].Namespace != namespace {
			t.Errorf("binding %+v", bind)
		}
		var ds appsv1.DaemonSet
		strict(t, objs["DaemonSet/signgate"], &ds)
		if a := ds.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
			t.Error("the service-account token is not mounted")
		}
		checkDaemonSet(t, &ds)
		var cm corev1.ConfigMap
		strict(t, objs["ConfigMap/signgate-config"], &cm)
		cfg := cm.Data["config.toml"]
		for _, w := range []string{"[registry.pod_pull_secrets]\nenabled = true\napi_server = \"https://10.1.2.3:6443\""} {
			if !strings.Contains(cfg, w) {
				t.Errorf("config.toml lacks %q:\n%s", w, cfg)
			}
		}
		if strings.Contains(cfg, "service_account = true") != sa {
			t.Errorf("serviceAccount=%v: config.toml:\n%s", sa, cfg)
		}
		checkConfigText(t, cfg, nil)
	}
}

// podPullSecrets.kubelet reads as the kubelet, node-scoped: the kubelet's
// kubeconfig and pki directory mounted read-only at their own paths, no
// ClusterRole, no token; with serviceAccount or apiServer it refuses.
func TestChartPodPullSecretsAsKubelet(t *testing.T) {
	objs := render(t, "--set", "podPullSecrets.enabled=true,podPullSecrets.kubelet.enabled=true")
	for k := range objs {
		if strings.HasPrefix(k, "ClusterRole") {
			t.Errorf("as the kubelet, the chart renders %s", k)
		}
	}
	var ds appsv1.DaemonSet
	strict(t, objs["DaemonSet/signgate"], &ds)
	checkDaemonSet(t, &ds)
	spec := ds.Spec.Template.Spec
	if a := spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("the service-account token is mounted")
	}
	want := map[string]corev1.HostPathType{"/etc/kubernetes/kubelet.conf": corev1.HostPathFile, "/var/lib/kubelet/pki": corev1.HostPathDirectory}
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		typ, ok := want[v.HostPath.Path]
		if !ok {
			continue
		}
		delete(want, v.HostPath.Path)
		if v.HostPath.Type == nil || *v.HostPath.Type != typ {
			t.Errorf("volume %s: type %v, want %s", v.Name, v.HostPath.Type, typ)
		}
		mounted := false
		for _, m := range spec.Containers[0].VolumeMounts {
			if m.Name == v.Name {
				mounted = true
				if !m.ReadOnly || m.MountPath != v.HostPath.Path {
					t.Errorf("mount %+v: want read-only at %s", m, v.HostPath.Path)
				}
			}
		}
		if !mounted {
			t.Errorf("volume %s is not mounted", v.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("not mounted: %v", want)
	}
	var cm corev1.ConfigMap
	strict(t, objs["ConfigMap/signgate-config"], &cm)
	cfg := cm.Data["config.toml"]
	if !strings.Contains(cfg, "[registry.pod_pull_secrets]\nenabled = true\n# As the kubelet: only the secrets of pods bound to this node.\nkubeconfig = \"/etc/kubernetes/kubelet.conf\"") {
		t.Errorf("config.toml:\n%s", cfg)
	}
	checkConfigText(t, cfg, nil)

	bin := os.Getenv("SIGNGATE_HELM")
	if bin == "" {
		skip(t, "SIGNGATE_HELM is not set: the chart is not rendered")
	}
	for _, set := range []string{"podPullSecrets.ofServiceAccount=true", "podPullSecrets.apiServer=https://10.1.2.3:6443"} {
		out, err := exec.Command(bin, "template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion,
			"--set", "podPullSecrets.enabled=true,podPullSecrets.kubelet.enabled=true,"+set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "podPullSecrets.kubelet.enabled: not with") {
			t.Errorf("%s: rendered: %v\n%s", set, err, out)
		}
	}
}

// podPullSecrets.serviceAccount was renamed ofServiceAccount (it sat beside
// the chart's own serviceAccount.* and meant the pod's): an upgrade that
// still sets it is refused, naming the new key, instead of silently
// dropping the grant.
func TestChartPodPullSecretsOldServiceAccountKeyRefused(t *testing.T) {
	bin := os.Getenv("SIGNGATE_HELM")
	if bin == "" {
		skip(t, "SIGNGATE_HELM is not set: the chart is not rendered")
	}
	for _, set := range []string{"podPullSecrets.enabled=true,podPullSecrets.serviceAccount=true", "podPullSecrets.serviceAccount=true"} {
		out, err := exec.Command(bin, "template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion,
			"--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "podPullSecrets.serviceAccount is now podPullSecrets.ofServiceAccount") {
			t.Errorf("%s: rendered: %v\n%s", set, err, out)
		}
	}
	// helm upgrade --reuse-values carries the old chart's default, false,
	// into every upgrade: that must not stop the upgrade (it did, in the
	// Kubernetes suite's upgrade from a release installed before the rename).
	out, err := exec.Command(bin, "template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion,
		"--set", "podPullSecrets.enabled=true,podPullSecrets.serviceAccount=false").CombinedOutput()
	if err != nil {
		t.Errorf("the old default serviceAccount=false refused the render: %v\n%s", err, out)
	}
}
