package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

func (e *Env) writeKeys() error {
	if err := os.MkdirAll(filepath.Join(e.Dir, "keys"), 0o755); err != nil {
		return err
	}
	pki, err := sigtest.NewPKI("signgate integration")
	if err != nil {
		return err
	}
	e.Notary = pki
	if e.Sigstore, err = sigtest.NewSigstore(); err != nil {
		return err
	}
	if err := e.Sigstore.WriteTrustedRoot(filepath.Join(e.Dir, "keys", "trusted_root.json"), false); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.Dir, "keys", "n1.pem"), []byte(pki.RootPEM()), 0o644); err != nil {
		return err
	}
	for _, n := range []string{"k1", "k2", "stranger"} {
		s, err := sigtest.NewSigner()
		if err != nil {
			return err
		}
		e.Signers[n] = s
		if err := os.WriteFile(filepath.Join(e.Dir, "keys", n+".pub"), []byte(s.PublicPEM()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var podSeq, ctrSeq atomic.Int64

// Pod starts a host-network pod sandbox (there is no CNI here) and returns
// its ID and the config file crictl needs again for create.
func (e *Env) Pod(namespace string) (id, cfgPath string, err error) {
	n := podSeq.Add(1)
	cfg := map[string]any{
		"metadata":      map[string]any{"name": fmt.Sprintf("pod%d", n), "namespace": namespace, "uid": fmt.Sprintf("uid-%d", n)},
		"log_directory": filepath.Join(e.Dir, "logs", fmt.Sprint(n)),
		"linux":         map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}},
	}
	p := filepath.Join(e.Dir, fmt.Sprintf("pod%d.json", n))
	if err := writeJSON(p, cfg); err != nil {
		return "", "", err
	}
	out, err := e.Crictl("runp", p)
	if err != nil {
		return "", "", fmt.Errorf("crictl runp: %w: %s", err, out)
	}
	return lastLine(out), p, nil
}

// CtrOption shapes a container's CRI config.
type CtrOption func(cfg map[string]any)

// WithImageVolume mounts image read-only at path, as Kubernetes'
// `volumes: - image:` does.
func WithImageVolume(path, image string) CtrOption {
	return func(cfg map[string]any) {
		mounts, _ := cfg["mounts"].([]any)
		cfg["mounts"] = append(mounts, map[string]any{"container_path": path, "image": map[string]any{"image": image}, "readonly": true})
	}
}

// WithImageSubPath mounts the directory sub of image read-only at path,
// as Kubernetes' `subPath` of an image volume does (CRI image_sub_path).
func WithImageSubPath(path, image, sub string) CtrOption {
	return func(cfg map[string]any) {
		mounts, _ := cfg["mounts"].([]any)
		cfg["mounts"] = append(mounts, map[string]any{"container_path": path, "image": map[string]any{"image": image}, "image_sub_path": sub, "readonly": true})
	}
}

// WithUserSpecifiedImage sets the image as the CRI client says the user
// named it (the kubelet passes the pod spec's image here); containerd puts
// it in the image-name annotation.
func WithUserSpecifiedImage(ref string) CtrOption {
	return func(cfg map[string]any) { cfg["image"].(map[string]any)["user_specified_image"] = ref }
}

// WithCommand runs args instead of the image's command.
func WithCommand(args ...string) CtrOption {
	return func(cfg map[string]any) { cfg["command"] = args }
}

// Create asks containerd, through the CRI, to create a container of image in
// the pod. It returns the container ID, or crictl's error output.
func (e *Env) Create(podID, podCfg, image string, opts ...CtrOption) (string, error) {
	n := ctrSeq.Add(1)
	cfg := map[string]any{
		"metadata": map[string]any{"name": fmt.Sprintf("c%d", n)},
		"image":    map[string]any{"image": image},
		"log_path": fmt.Sprintf("c%d.log", n),
	}
	for _, o := range opts {
		o(cfg)
	}
	p := filepath.Join(e.Dir, fmt.Sprintf("ctr%d.json", n))
	if err := writeJSON(p, cfg); err != nil {
		return "", err
	}
	out, err := e.Crictl("create", podID, p, podCfg)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return lastLine(out), nil
}

// SignNotation signs img with the environment's Notary Project PKI,
// through the same registry access signgate uses.
func (e *Env) SignNotation(img name.Digest, envelope string) error {
	c, err := registry.New(registry.Config{})
	if err != nil {
		return err
	}
	repo, err := c.Repository(img.Context())
	if err != nil {
		return err
	}
	return e.Notary.SignNotation(context.Background(), repo, img, envelope)
}

// Pull pulls image into containerd.
func (e *Env) Pull(image string) error {
	if out, err := e.Crictl("pull", image); err != nil {
		return fmt.Errorf("crictl pull %s: %w: %s", image, err, out)
	}
	return nil
}

// Image pushes a fresh busybox image to repo:v1, signs it with the named
// library keys (legacy and bundle formats alternating) and pulls it into
// containerd.
func (e *Env) Image(repo string, keys ...string) (name.Digest, error) {
	d, err := PushBusybox(e.Registry+"/"+repo+":v1", "sleep", "3600")
	if err != nil {
		return d, err
	}
	for i, k := range keys {
		s, ok := e.Signers[k]
		if !ok {
			return d, fmt.Errorf("no signer %q", k)
		}
		if i%2 == 0 {
			err = s.SignLegacy(d)
		} else {
			err = s.SignBundle(d)
		}
		if err != nil {
			return d, err
		}
	}
	return d, e.Pull(e.Registry + "/" + repo + ":v1")
}

func writeJSON(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Stored says where a registry keeps what refers to the image d (its
// signatures): the manifests its OCI referrers API lists, with their
// artifact types (nil when the registry has no such API), and the fallback
// tags ("sha256-<hex>", "sha256-<hex>.sig") in the repository.
func Stored(d name.Digest) (referrers []string, fallbackTags []string, err error) {
	base := "http://" + d.RegistryStr() + "/v2/" + d.RepositoryStr()
	resp, err := http.Get(base + "/referrers/" + d.DigestStr())
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var idx struct {
			Manifests []struct {
				ArtifactType string `json:"artifactType"`
			} `json:"manifests"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
			return nil, nil, fmt.Errorf("referrers of %s: %w", d, err)
		}
		referrers = []string{}
		for _, m := range idx.Manifests {
			referrers = append(referrers, m.ArtifactType)
		}
	}
	tresp, err := http.Get(base + "/tags/list")
	if err != nil {
		return nil, nil, err
	}
	defer tresp.Body.Close()
	var tags struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(tresp.Body).Decode(&tags); err != nil {
		return nil, nil, fmt.Errorf("tags of %s: %w", d.Context(), err)
	}
	prefix := strings.Replace(d.DigestStr(), ":", "-", 1)
	for _, t := range tags.Tags {
		if strings.HasPrefix(t, prefix) {
			fallbackTags = append(fallbackTags, t)
		}
	}
	return referrers, fallbackTags, nil
}
