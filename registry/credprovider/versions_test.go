package credprovider

import (
	"strings"
	"testing"
)

// The kubelet (1.34) decodes a CredentialProviderConfig in
// kubelet.config.k8s.io v1alpha1, v1beta1 and v1 alike, so a node whose
// config is still v1beta1 (or v1alpha1, as older EKS AMIs wrote it) pulls
// with it: signgate reads the same file. tokenAttributes is a field of v1
// alone; the kubelet's strict decoding refuses it in the others, and so
// does signgate.
func TestConfigAPIVersionsAsTheKubelet(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	for _, v := range []string{"v1", "v1beta1", "v1alpha1"} {
		body := strings.Replace(oneProvider, "kubelet.config.k8s.io/v1\n", "kubelet.config.k8s.io/"+v+"\n", 1)
		ps, err := Load(Settings{Config: f.config(t, body), BinDir: f.bin})
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		if got := strings.Join(ps.Names(), ","); got != "fake" {
			t.Errorf("%s: providers %q", v, got)
		}
	}
	for _, v := range []string{"v1beta1", "v1alpha1"} {
		body := strings.Replace(tokenProviders, "kubelet.config.k8s.io/v1\n", "kubelet.config.k8s.io/"+v+"\n", 1)
		p := f.config(t, body)
		_, err := Load(Settings{Config: p, BinDir: f.bin, ServiceAccountTokens: TokensWithout})
		if err == nil || !strings.Contains(err.Error(), `providers[0] "fake": tokenAttributes is a field of kubelet.config.k8s.io/v1 only`) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s with tokenAttributes: %v", v, err)
		}
	}
}
