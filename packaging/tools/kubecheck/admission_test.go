package kubecheck

import (
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// The bootstrap annotation's policy covers every way a pod's annotations
// are written: pods, and pods/status, whose UPDATE also changes metadata
// (annotations included). The chart renders the same policy
// (TestChartRendersTheShippedManifest).
func TestBootstrapPolicyCoversPodStatus(t *testing.T) {
	for _, d := range docs(t) {
		if !strings.Contains(string(d), "kind: ValidatingAdmissionPolicy\n") {
			continue
		}
		var p admissionv1.ValidatingAdmissionPolicy
		if err := yaml.UnmarshalStrict(d, &p); err != nil {
			t.Fatal(err)
		}
		covered := map[string]bool{}
		for _, r := range p.Spec.MatchConstraints.ResourceRules {
			if slices.Contains(r.Operations, admissionv1.Update) && slices.Contains(r.APIGroups, "") {
				for _, res := range r.Resources {
					covered[res] = true
				}
			}
		}
		for _, res := range []string{"pods", "pods/status"} {
			if !covered[res] {
				t.Errorf("%s: the policy %s does not cover UPDATE of %s", manifests, p.Name, res)
			}
		}
		return
	}
	t.Fatalf("%s has no ValidatingAdmissionPolicy", manifests)
}
