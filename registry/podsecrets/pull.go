package podsecrets

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry/credprovider"
)

// Pod is a pod as NRI names it.
type Pod struct {
	Namespace, Name, UID string
	// Static: the kubelet read the pod from a file or URL (its
	// kubernetes.io/config.source annotation), not the API server; a
	// static pod cannot name API objects, so nothing is looked up.
	Static bool
}

func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// Pull is the registry credentials one pod brings: its readable pull
// secrets, in the order it names them. It is used for that pod's
// verifications only, and says nothing of a secret's content in any
// string it returns.
type Pull struct {
	pod     Pod
	secrets []*secret
	notes   []string // secrets skipped, and why; or why none were read
}

// secret is one readable docker-config secret.
type secret struct {
	ref  string // namespace/name
	rv   string // resourceVersion
	ring *credprovider.Keyring
}

// image is repo as the kubelet names it to a keyring.
func image(repo name.Repository) string {
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + repo.RepositoryStr()
}

func (p *Pull) find(repo name.Repository) (*secret, credprovider.Credential, bool) {
	if p == nil {
		return nil, credprovider.Credential{}, false
	}
	img := image(repo)
	for _, s := range p.secrets {
		if c, ok := s.ring.Lookup(img); ok {
			return s, c, true
		}
	}
	return nil, credprovider.Credential{}, false
}

// Credential is the pod's credential for repo, from the first of its
// secrets with an entry for it, and the source, named for errors.
func (p *Pull) Credential(repo name.Repository) (authn.Authenticator, string, bool) {
	s, c, ok := p.find(repo)
	if !ok {
		return nil, "", false
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}),
		fmt.Sprintf("pull secret %s of pod %s", s.ref, p.pod), true
}

// Scope names the credential repo would be read with: the secret and its
// resourceVersion, "" when the pod has none for it (the node's own
// credentials then). Verdicts are kept apart by it: one read with a
// pod's secret is reused only by requests bringing the same secret.
func (p *Pull) Scope(repo name.Repository) string {
	s, _, ok := p.find(repo)
	if !ok {
		return ""
	}
	return "secret:" + s.ref + "@" + s.rv
}

// None says why the pod has no credential for repo, for a denial.
func (p *Pull) None(repo name.Repository) string {
	if p == nil {
		return ""
	}
	var names []string
	for _, s := range p.secrets {
		names = append(names, s.ref)
	}
	var out string
	if len(names) > 0 {
		out = fmt.Sprintf("pod %s's pull secrets (%s) have none for %s", p.pod, strings.Join(names, ", "), repo.RegistryStr())
	} else {
		out = fmt.Sprintf("pod %s has no readable pull secret", p.pod)
	}
	if len(p.notes) > 0 {
		out += " (" + strings.Join(p.notes, "; ") + ")"
	}
	return out
}
