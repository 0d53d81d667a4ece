package podsecrets

import (
	"crypto/sha256"
	"encoding/hex"
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
	dropped int      // notes past maxNotes or maxNotesBytes, counted only
}

// A denial quotes the notes: they are bounded in count and size, so that
// no pod can make a verdict's reason, or the log line, large.
const (
	maxNotes      = 8
	maxNoteBytes  = 512
	maxNotesBytes = 2048
)

// note adds a note, cut to maxNoteBytes, or counts it when the notes are
// full.
func (p *Pull) note(n string) {
	if len(n) > maxNoteBytes {
		n = n[:maxNoteBytes] + "..."
	}
	total := len(n)
	for _, o := range p.notes {
		total += len(o)
	}
	if len(p.notes) >= maxNotes || total > maxNotesBytes {
		p.dropped++
		return
	}
	p.notes = append(p.notes, n)
}

// noteText is the notes as a denial quotes them.
func (p *Pull) noteText() string {
	out := strings.Join(p.notes, "; ")
	if p.dropped > 0 {
		out += fmt.Sprintf("; %d more notes", p.dropped)
	}
	return out
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
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), "pull secret " + s.ref, true
}

// Scope names what repo would be read with, and what a verdict is kept
// apart by: the secret and its resourceVersion; for a pod with none for
// repo, "" (the node's credentials, shared by every such pod), or, when
// some of its secrets could not be read, those notes (digested), so that
// a denial naming them reaches only pods they are true of.
func (p *Pull) Scope(repo name.Repository) string {
	if s, _, ok := p.find(repo); ok {
		return "secret:" + s.ref + "@" + s.rv
	}
	if p == nil || len(p.notes) == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(p.notes, "\x00") + fmt.Sprintf("\x00%d", p.dropped)))
	return "unread:" + hex.EncodeToString(sum[:8])
}

// None says why the pod has no credential for repo, for a denial. It is
// true of every pod of the same Scope: it names no pod, and names secrets
// only in the notes the scope is made of.
func (p *Pull) None(repo name.Repository) string {
	out := "no pod pull secret for " + repo.RegistryStr()
	if p != nil && len(p.notes) > 0 {
		out += " (" + p.noteText() + ")"
	}
	return out
}
