package kubecheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// The kubelet's provider config is a file or, since Kubernetes 1.34, a
// directory of files: the chart's hostPath takes the type configType says
// (File unless told), and refuses any other, naming the key.
func TestChartCredentialProviderConfigType(t *testing.T) {
	for set, want := range map[string]string{
		"kubeletCredentialProviders.enabled=true":                                                 "File",
		"kubeletCredentialProviders.enabled=true,kubeletCredentialProviders.configType=Directory": "Directory",
	} {
		var ds appsv1.DaemonSet
		strict(t, render(t, "--set", set)["DaemonSet/signgate"], &ds)
		got := ""
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name == "credential-provider-config" && v.HostPath != nil && v.HostPath.Type != nil {
				got = string(*v.HostPath.Type)
			}
		}
		if got != want {
			t.Errorf("--set %s: the provider config's hostPath type is %q, want %q", set, got, want)
		}
	}
	bin := os.Getenv("SIGNGATE_HELM")
	if bin == "" {
		skip(t, "SIGNGATE_HELM is not set: the chart is not rendered")
	}
	out, err := exec.Command(bin, "template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion,
		"--set", "kubeletCredentialProviders.enabled=true,kubeletCredentialProviders.configType=Socket").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `kubeletCredentialProviders.configType "Socket": want File or Directory`) {
		t.Errorf("configType Socket: %v\n%s", err, out)
	}
}
