package kubecheck

import (
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
			set += ",podPullSecrets.serviceAccount=true"
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
