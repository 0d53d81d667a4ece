package kubecheck

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The chart (charts/signgate) and the plain manifest
// (packaging/kubernetes/signgate.yaml) are two ways to install one thing:
// with its default values the chart renders the manifest's objects, field
// for field (the config compared as TOML, comments aside). The Namespace is
// the manifest's alone: helm install --create-namespace makes it.
const (
	chart        = "../../../charts/signgate"
	namespace    = "signgate-system"
	kubeVersion  = "1.34.2" // integration/tools/kubernetes
	monitoringV1 = "monitoring.coreos.com/v1"
)

func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("SIGNGATE_HELM")
	if bin == "" {
		skip(t, "SIGNGATE_HELM is not set: the chart is not rendered")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// render runs helm template with the chart's defaults and sets, and
// returns each object as generic JSON, keyed "Kind/name".
func render(t *testing.T, extra ...string) map[string]map[string]any {
	t.Helper()
	out := helm(t, append([]string{"template", "signgate", chart, "--namespace", namespace, "--kube-version", kubeVersion}, extra...)...)
	return objects(t, "helm template", []byte(out))
}

func objects(t *testing.T, what string, b []byte) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	for _, d := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) == 0 {
			continue
		}
		var o map[string]any
		if err := yaml.Unmarshal(d, &o); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, d)
		}
		meta, _ := o["metadata"].(map[string]any)
		key := o["kind"].(string) + "/" + meta["name"].(string)
		if _, dup := objs[key]; dup {
			t.Fatalf("%s: %s twice", what, key)
		}
		objs[key] = o
	}
	return objs
}

// tomlData replaces a ConfigMap's config.toml by its decoded TOML.
func tomlData(t *testing.T, what string, o map[string]any) {
	t.Helper()
	data, _ := o["data"].(map[string]any)
	s, ok := data["config.toml"].(string)
	if !ok {
		return
	}
	var v map[string]any
	if _, err := toml.Decode(s, &v); err != nil {
		t.Fatalf("%s: config.toml: %v\n%s", what, err, s)
	}
	data["config.toml"] = v
}

func TestChartRendersTheShippedManifest(t *testing.T) {
	got := render(t)
	b, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	want := objects(t, manifests, b)
	delete(want, "Namespace/"+namespace)
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("the chart does not render %s", k)
			continue
		}
		tomlData(t, manifests+" "+k, w)
		tomlData(t, "the chart's "+k, g)
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.MarshalIndent(g, "", "  ")
			wj, _ := json.MarshalIndent(w, "", "  ")
			t.Errorf("%s differs:\nthe chart renders\n%s\nsigngate.yaml has\n%s", k, gj, wj)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("the chart renders %s, which signgate.yaml lacks", k)
		}
	}
}

func TestChartLints(t *testing.T) {
	helm(t, "lint", "--strict", chart, "--namespace", namespace, "--kube-version", kubeVersion)
	helm(t, "lint", "--strict", chart, "--namespace", namespace, "--kube-version", kubeVersion,
		"--set", "metrics.enabled=true,metrics.dashboard.enabled=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true")
}

// Values a user sets: a digest, a KMS key, enforce, credentials, metrics.
// The result decodes strictly and its config passes check-config.
func TestChartValues(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	values := `image:
  digest: ` + digest + `
config:
  keys:
    placeholder: null # values merge: null removes a default
    release: {kms: "awskms:///alias/release"}
  kms:
    sync_interval: 5m
    aws: {region: eu-west-1}
  policies: |
    [[policy]]
    name = "system"
    scopes = ["registry.k8s.io/**"]
    mode = "allow"
  catchAll: {name: everything, mode: enforce, keys: [release]}
envFrom: [{secretRef: {name: signgate-kms}}]
registryCredentials: {dockerConfigSecret: regcred}
kubeletCredentialProviders: {enabled: true}
metrics: {enabled: true, dashboard: {enabled: true}}
`
	p := t.TempDir() + "/values.yaml"
	if err := os.WriteFile(p, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := render(t, "-f", p, "--api-versions", monitoringV1+"/ServiceMonitor", "--api-versions", monitoringV1+"/PrometheusRule")
	for _, k := range []string{"Service/signgate-metrics", "ServiceMonitor/signgate", "PrometheusRule/signgate", "ConfigMap/signgate-dashboard"} {
		if objs[k] == nil {
			t.Errorf("with metrics enabled and the operator's CRDs served, the chart does not render %s", k)
		}
	}
	var ds appsv1.DaemonSet
	strict(t, objs["DaemonSet/signgate"], &ds)
	c := ds.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/signgate/signgate@"+digest {
		t.Errorf("image %q, want it pinned by digest", c.Image)
	}
	if a := strings.Join(c.Args, " "); !strings.Contains(a, "--metrics-scrape-address $(NODE_IP):9465") {
		t.Errorf("args %q do not serve the scrape listener on the node's IP", a)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_IP" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "status.hostIP" {
		t.Errorf("env %+v: no NODE_IP from status.hostIP", c.Env)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9465 || c.Ports[0].Name != "metrics" {
		t.Errorf("ports %+v", c.Ports)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "signgate-kms" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	ro := map[string]bool{}
	for _, m := range c.VolumeMounts {
		ro[m.MountPath] = m.ReadOnly
	}
	for _, p := range []string{"/etc/signgate-registry", "/etc/kubernetes/credential-provider-config.yaml", "/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec"} {
		if !ro[p] {
			t.Errorf("%s is not mounted read-only", p)
		}
	}
	checkDaemonSet(t, &ds)

	var cm corev1.ConfigMap
	strict(t, objs["ConfigMap/signgate-config"], &cm)
	cfg := cm.Data["config.toml"]
	for _, want := range []string{`docker_config = "/etc/signgate-registry/config.json"`, `kms = "awskms:///alias/release"`, `name = "system"`, `mode = "enforce"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.toml lacks %s:\n%s", want, cfg)
		}
	}
	// Policies in order: signgate's own first, the catch-all last.
	if i, j, k := strings.Index(cfg, `"signgate-itself"`), strings.Index(cfg, `"system"`), strings.Index(cfg, `"everything"`); !(i >= 0 && i < j && j < k) {
		t.Errorf("policies out of order:\n%s", cfg)
	}
	if strings.Contains(cfg, "placeholder") {
		t.Errorf("placeholder: null left the placeholder key in:\n%s", cfg)
	}
	// The Secret is mounted in the pod; here an empty one stands in.
	auth := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(auth, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// And the kubelet's credential provider config and bin dir, which the
	// pod mounts from the node.
	if !strings.Contains(cfg, "[registry.credential_providers]") {
		t.Errorf("config.toml does not name the kubelet's credential providers:\n%s", cfg)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "ecr-credential-provider"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	providers := filepath.Join(t.TempDir(), "credential-provider-config.yaml")
	if err := os.WriteFile(providers, []byte(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: ecr-credential-provider
  matchImages: ["*.dkr.ecr.*.amazonaws.com"]
  defaultCacheDuration: 12h
  apiVersion: credentialprovider.kubelet.k8s.io/v1
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = strings.NewReplacer("/etc/signgate-registry/config.json", auth,
		"/etc/kubernetes/credential-provider-config.yaml", providers,
		"/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec", bin).Replace(cfg)
	checkConfigText(t, cfg, nil)

	// The rules are the file promtool tests; the dashboard is JSON.
	rules, err := os.ReadFile(chart + "/files/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(rules, &file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(objs["PrometheusRule/signgate"]["spec"], file) {
		t.Error("the PrometheusRule's spec is not files/alerts.yaml")
	}
	var dash map[string]any
	if data, _ := objs["ConfigMap/signgate-dashboard"]["data"].(map[string]any); data == nil || json.Unmarshal([]byte(data["signgate.json"].(string)), &dash) != nil || dash["uid"] != "signgate" {
		t.Error("the dashboard ConfigMap does not hold the dashboard's JSON")
	}

	// Without the operator's CRDs, auto renders neither.
	objs = render(t, "-f", p)
	for _, k := range []string{"ServiceMonitor/signgate", "PrometheusRule/signgate"} {
		if objs[k] != nil {
			t.Errorf("the chart renders %s on a cluster without the Prometheus Operator's CRDs", k)
		}
	}
}

// strict decodes a rendered object into its API type, refusing unknown fields.
func strict(t *testing.T, o map[string]any, into any) {
	t.Helper()
	if o == nil {
		t.Fatalf("no object to decode into %T", into)
	}
	b, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%T: %v", into, err)
	}
}

// Whoever can create pods in signgate's namespace could run pods marked
// for bootstrap; the chart refuses the namespaces every tenant shares.
func TestChartRefusesSharedNamespaces(t *testing.T) {
	bin := os.Getenv("SIGNGATE_HELM")
	if bin == "" {
		skip(t, "SIGNGATE_HELM is not set: the chart is not rendered")
	}
	for _, ns := range []string{"default", "kube-system"} {
		out, err := exec.Command(bin, "template", "signgate", chart, "--namespace", ns, "--kube-version", kubeVersion).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "namespace of its own") {
			t.Errorf("rendered into %s: %v\n%s", ns, err, out)
		}
	}
}

// A cloud identity for KMS keys reaches the pod: service account
// annotations (IRSA, Azure Workload Identity) and pod labels.
func TestChartIdentityValues(t *testing.T) {
	objs := render(t, "--set", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/signgate",
		"--set", "podLabels.azure\\.workload\\.identity/use=true")
	var sa corev1.ServiceAccount
	strict(t, objs["ServiceAccount/signgate"], &sa)
	if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::1:role/signgate" {
		t.Errorf("service account annotations %v", sa.Annotations)
	}
	var ds appsv1.DaemonSet
	strict(t, objs["DaemonSet/signgate"], &ds)
	if l := ds.Spec.Template.Labels; l["azure.workload.identity/use"] != "true" || l["app.kubernetes.io/name"] != "signgate" {
		t.Errorf("pod labels %v", l)
	}
}

// With policySource, the ConfigMap is bootstrap only: [policy_source] and
// its signers' keys, no [[policy]] (the local file may not hold one), and
// signgate loads it.
func TestChartPolicySource(t *testing.T) {
	values := `config:
  keys:
    placeholder: null
    security: {pem: "` + strings.ReplaceAll(placeholderPEM, "\n", `\n`) + `"}
policySource:
  enabled: true
  reference: registry.example.com/security/signgate-policy:prod
  maxStaleness: 24h
  maxValidity: 1440h
  onStale: deny
  keys: [security]
`
	p := t.TempDir() + "/values.yaml"
	if err := os.WriteFile(p, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := render(t, "-f", p)
	var cm corev1.ConfigMap
	strict(t, objs["ConfigMap/signgate-config"], &cm)
	cfg := cm.Data["config.toml"]
	for _, want := range []string{"[policy_source]", `reference = "registry.example.com/security/signgate-policy:prod"`, `on_stale = "deny"`, `max_validity = "1440h"`, `keys = ["security"]`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.toml lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "[[policy]]") {
		t.Errorf("config.toml holds a policy beside the source:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "[daemon]\n", "[daemon]\nstate_dir = \""+t.TempDir()+"\"\n", 1)
	checkConfigText(t, cfg, []string{"no policy from registry.example.com/security/signgate-policy:prod has been verified yet"})
}

// The placeholder key the chart ships, a valid key for a test's config.
const placeholderPEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEip53JySHT8hwUR6ot9pwBMSX1WW9
VFj7mmWaDAGuM2ZBFHrt23YyEjHWGbgYonFQUPLD94TL45mg4o64PCwqzQ==
-----END PUBLIC KEY-----
`
