package crio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/imagestore"
)

// ImageRefAnnotation is where CRI-O puts the ID (config digest) of the image
// it created the container from, in the OCI spec NRI passes on.
const ImageRefAnnotation = "io.kubernetes.cri-o.ImageRef"

// Store is CRI-O's records, read from its containers/storage files: the
// lookups imagestore.Records names, answered from CRI-O's storage. It is
// safe for concurrent use: it keeps no state.
type Store struct {
	Storage Storage
	CRI     *CRI // CRI-O's CRI, to list and stop containers; nil when not named
	// Restores refuses creations while CRI-O restores checkpoints
	// (criu.go); nil refuses none.
	Restores *RestoreGate
	// Volumes is CRI-O's image-volumes directory (volumedir.go); nil binds
	// no image volume.
	Volumes *VolumeDir
}

// ContainerImage is what CRI-O created the container from, by its own
// record: the storage container's image, as an image ID (the config
// digest) for Resolve, and as the runtime's word on the config it runs.
// CRI-O also writes that ID into the spec's io.kubernetes.cri-o.ImageRef
// annotation; a container whose annotation names another image is refused:
// the annotation is what other tools read, and one that lies is an attack.
func (r *Store) ContainerImage(_ context.Context, ctr *api.Container) (string, *api.Image, error) {
	c, err := r.Storage.container(ctr.GetId())
	if err != nil {
		return "", nil, err
	}
	id, err := imageID(c.ImageID)
	if err != nil {
		return "", nil, fmt.Errorf("container %s: CRI-O's storage names image %q: %w", c.ID, c.ImageID, err)
	}
	ann, ok := ctr.GetAnnotations()[ImageRefAnnotation]
	if !ok {
		return "", nil, fmt.Errorf("container %s carries no %s annotation, which CRI-O always writes", c.ID, ImageRefAnnotation)
	}
	if a, err := imageID(ann); err != nil || a != id {
		return "", nil, fmt.Errorf("container %s: its %s annotation names %q, but CRI-O's storage created it from image %s", c.ID, ImageRefAnnotation, ann, id)
	}
	return id.String(), &api.Image{ConfigDigest: id.String()}, nil
}

// isImageID reports whether ref is an image ID (a config digest) rather
// than a name.
func isImageID(ref string) bool {
	if !strings.HasPrefix(ref, "sha256:") {
		return false
	}
	_, err := digest.Parse(ref)
	return err == nil
}

// imageID reads a storage image ID, bare hex or "sha256:" prefixed.
func imageID(s string) (digest.Digest, error) {
	if !strings.Contains(s, ":") {
		s = "sha256:" + s
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", err
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("not a sha256 image ID")
	}
	return d, nil
}

// Resolve names the content ref points to in CRI-O's storage: for an image
// ID, every repository the image is known by with each manifest digest it
// holds for that config; for a name, the image carrying that name.
func (r *Store) Resolve(_ context.Context, ref string) ([]name.Digest, error) {
	imgs, err := r.Storage.images()
	if err != nil {
		return nil, err
	}
	if isImageID(ref) {
		for _, img := range imgs {
			if "sha256:"+img.ID == ref {
				return r.names(img, nil)
			}
		}
		return nil, fmt.Errorf("image %s is not in CRI-O's storage", ref)
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q is not a valid reference: %w", ref, err)
	}
	for _, img := range imgs {
		for _, n := range img.Names {
			if n == named.String() {
				return r.names(img, reference.TrimNamed(named))
			}
		}
	}
	if cd, ok := named.(reference.Canonical); ok {
		// Pulled by digest: storage keeps the digest, maybe not the name.
		for _, img := range imgs {
			for _, d := range img.manifestDigests() {
				if d == cd.Digest() && hasRepo(img, reference.TrimNamed(named).String()) {
					return toDigests([]string{reference.TrimNamed(named).String()}, []digest.Digest{d})
				}
			}
		}
	}
	return nil, fmt.Errorf("image %s is not in CRI-O's storage", ref)
}

// names is every repo@digest the image is known by: its repositories (or
// only repo) times the manifests it holds whose config is the image's.
func (r *Store) names(img image, repo reference.Named) ([]name.Digest, error) {
	var repos []string
	if repo != nil {
		repos = []string{repo.String()}
	} else {
		seen := map[string]bool{}
		for _, n := range img.Names {
			nn, err := reference.ParseNormalizedNamed(n)
			if err != nil {
				continue
			}
			if t := reference.TrimNamed(nn).String(); !seen[t] {
				seen[t] = true
				repos = append(repos, t)
			}
		}
	}
	if len(repos) == 0 {
		return nil, fmt.Errorf("image sha256:%s: CRI-O knows it by ID only, so its repository (and the policy that governs it) is unknown", img.ID)
	}
	var ds []digest.Digest
	for _, d := range img.manifestDigests() {
		ls, err := r.Storage.layouts(img, d)
		if err != nil {
			continue // unreadable: not named, so not allowed by it
		}
		for _, l := range ls {
			if l.config.Encoded() == img.ID {
				ds = append(ds, d)
				break
			}
		}
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("image sha256:%s: CRI-O's storage holds no manifest of it", img.ID)
	}
	return toDigests(repos, ds)
}

func hasRepo(img image, repo string) bool {
	for _, n := range img.Names {
		if nn, err := reference.ParseNormalizedNamed(n); err == nil && reference.TrimNamed(nn).String() == repo {
			return true
		}
	}
	return false
}

func toDigests(repos []string, ds []digest.Digest) ([]name.Digest, error) {
	var out []name.Digest
	for _, repo := range repos {
		for _, d := range ds {
			n, err := name.NewDigest(repo + "@" + d.String())
			if err != nil {
				return nil, fmt.Errorf("image %s@%s: %w", repo, d, err)
			}
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// RootFS is the layer chain the container's root filesystem is built on:
// its storage layer's parent, which must be the top layer of the image the
// container record names (CRI-O creates the container's layer on it).
func (r *Store) RootFS(_ context.Context, containerID string) (digest.Digest, error) {
	_, chain, err := r.created(containerID)
	return chain, err
}

func (r *Store) created(containerID string) (digest.Digest, digest.Digest, error) {
	c, err := r.Storage.container(containerID)
	if err != nil {
		return "", "", err
	}
	img, err := r.Storage.image(c.ImageID)
	if err != nil {
		return "", "", fmt.Errorf("container %s: %w", containerID, err)
	}
	layers, err := r.Storage.layers()
	if err != nil {
		return "", "", err
	}
	l, ok := layers[c.LayerID]
	if !ok {
		return "", "", fmt.Errorf("container %s: its layer %s is not in CRI-O's storage", containerID, c.LayerID)
	}
	if l.Parent != img.TopLayer || img.TopLayer == "" {
		return "", "", fmt.Errorf("container %s: its layer is built on %q, not on the top layer %q of image sha256:%s it names: %w", containerID, l.Parent, img.TopLayer, img.ID, imagestore.ErrNotBuiltFrom)
	}
	chain, err := chainOf(layers, l.Parent)
	if err != nil {
		return "", "", fmt.Errorf("container %s: %w", containerID, err)
	}
	return digest.Digest("sha256:" + img.ID), chain, nil
}

// BuiltFrom checks that img is what runs: an image in CRI-O's storage holds
// img's manifest (or index) and, under it, a manifest with the layer chain
// and, when config is given, that image config.
func (r *Store) BuiltFrom(_ context.Context, chain, config digest.Digest, img name.Digest) error {
	d, err := digest.Parse(img.DigestStr())
	if err != nil {
		return fmt.Errorf("image %s: %w", img, err)
	}
	imgs, err := r.Storage.images()
	if err != nil {
		return err
	}
	var ls []layout
	found := false
	for _, si := range imgs {
		for _, md := range si.manifestDigests() {
			if md != d {
				continue
			}
			found = true
			got, err := r.Storage.layouts(si, d)
			if err != nil {
				return fmt.Errorf("image %s: %w", img, err)
			}
			ls = append(ls, got...)
		}
	}
	if !found {
		return fmt.Errorf("image %s: no image in CRI-O's storage holds its manifest", img)
	}
	layers := false
	for _, l := range ls {
		if chain == "" || l.chain != chain {
			continue
		}
		layers = true
		if config == "" || l.config == config {
			return nil
		}
	}
	if layers {
		return fmt.Errorf("the container was created with image config %s, which is not the config of %s with the layers it runs (%s): %w", config, img, chain, imagestore.ErrNotBuiltFrom)
	}
	return fmt.Errorf("the container's root filesystem (layer chain %s) is not built from %s: %w", chain, img, imagestore.ErrNotBuiltFrom)
}

// CreatedFrom is CRI-O's record of the container: the image (config) its
// storage container was made from, and the layer chain under its layer.
func (r *Store) CreatedFrom(_ context.Context, containerID string) (imagestore.Created, error) {
	cfg, chain, err := r.created(containerID)
	if err != nil {
		return imagestore.Created{}, err
	}
	return imagestore.Created{Config: cfg, Chain: chain}, nil
}

// SandboxImage is the pod's infra container's image ID and layer chain: CRI-O stores it under the sandbox's
// ID, made from the pause image, before NRI's RunPodSandbox. With
// drop_infra_ctr (CRI-O's default, for a pod that shares no PID
// namespace) no process runs from it, but CRI-O creates the storage
// container all the same (CreatePodSandbox), so it is decided as well; a
// sandbox with no record is refused.
func (r *Store) SandboxImage(_ context.Context, sandboxID string) (string, digest.Digest, error) {
	cfg, chain, err := r.created(sandboxID)
	if err != nil {
		return "", "", fmt.Errorf("pod sandbox %s: %w", sandboxID, err)
	}
	return cfg.String(), chain, nil
}

// Known answers nothing from memory: CRI-O has no event stream to learn
// from, so every creation reads the storage.
func (r *Store) Known(string, string) ([]name.Digest, digest.Digest) { return nil, "" }

// Images lists one name of each image, for pre-verification after a key
// change.
func (r *Store) Images(context.Context) ([]string, error) {
	imgs, err := r.Storage.images()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range imgs {
		if len(img.Names) > 0 {
			out = append(out, img.Names[0])
		}
	}
	return out, nil
}

// Follow would hear new images; CRI-O has no event API to follow, so it
// only waits for ctx: images are verified when a container asks.
func (r *Store) Follow(ctx context.Context, _ func(string), _ func(error, time.Duration)) {
	<-ctx.Done()
}

// Ping checks that CRI-O's storage is readable, for readiness.
func (r *Store) Ping(context.Context) error {
	_, err := os.Stat(filepath.Join(r.Storage.dir(r.Storage.Root, "images"), "images.json"))
	return err
}

// Close closes the CRI connection; storage files are opened per read.
func (r *Store) Close() error {
	if r.CRI != nil {
		return r.CRI.Close()
	}
	return nil
}
