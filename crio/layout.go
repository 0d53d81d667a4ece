package crio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layout is one image manifest's config digest and layer chain (the OCI
// chain ID of its config's diff IDs).
type layout struct {
	manifest digest.Digest // the platform manifest it is read from
	config   digest.Digest
	chain    digest.Digest
}

// manifest reads the image's manifest (or index) stored under digest d.
func (s Storage) manifest(img image, d digest.Digest) ([]byte, error) {
	key := manifestKeyPrefix + d.String()
	if slices.Contains(img.BigDataNames, key) {
		return s.bigData(img, key, d)
	}
	if img.Digest == d && slices.Contains(img.BigDataNames, "manifest") {
		return s.bigData(img, "manifest", d)
	}
	return nil, fmt.Errorf("image %s holds no manifest %s", img.ID, d)
}

// layouts returns the config and layer chain of the manifest d, or of each
// manifest of the index d that the image holds. Only manifests and configs
// the image record holds are read: they are what CRI-O pulled.
func (s Storage) layouts(img image, d digest.Digest) ([]layout, error) {
	b, err := s.manifest(img, d)
	if err != nil {
		return nil, err
	}
	var m struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image %s: manifest %s: %w", img.ID, d, err)
	}
	if m.Config == nil {
		var out []layout
		for _, child := range m.Manifests {
			if child.Platform == nil && child.ArtifactType != "" {
				continue // an attestation or signature, not an image
			}
			if !slices.Contains(img.BigDataNames, manifestKeyPrefix+child.Digest.String()) {
				continue // a platform this node did not pull
			}
			ls, err := s.layouts(img, child.Digest)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
		}
		return out, nil
	}
	ls, err := s.configLayout(img, m.Config.Digest)
	for i := range ls {
		ls[i].manifest = d
	}
	return ls, err
}

// configLayout reads the image config the image holds under its digest.
func (s Storage) configLayout(img image, cfg digest.Digest) ([]layout, error) {
	if !slices.Contains(img.BigDataNames, cfg.String()) {
		// A manifest of another config (an index naming several): not
		// this image's, so nothing here runs it.
		return nil, nil
	}
	cb, err := s.bigData(img, cfg.String(), cfg)
	if err != nil {
		return nil, err
	}
	var c ocispec.Image
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, fmt.Errorf("image %s: config %s: %w", img.ID, cfg, err)
	}
	l := layout{config: cfg}
	if len(c.RootFS.DiffIDs) > 0 {
		l.chain = identity.ChainID(c.RootFS.DiffIDs)
	}
	return []layout{l}, nil
}

// chainOf is the OCI chain ID of the layer top and its parents, from the
// uncompressed digests containers/storage records for each.
func chainOf(layers map[string]layer, top string) (digest.Digest, error) {
	var diffIDs []digest.Digest
	for id := top; id != ""; {
		l, ok := layers[id]
		if !ok {
			return "", fmt.Errorf("layer %s is not in CRI-O's storage", id)
		}
		if l.UncompressedDigest == "" {
			// A partially pulled (zstd:chunked) layer may have none:
			// what it holds cannot be tied to a signed diff ID.
			return "", fmt.Errorf("layer %s has no uncompressed digest in CRI-O's storage, so it cannot be bound to a signed image", id)
		}
		diffIDs = append(diffIDs, l.UncompressedDigest)
		if len(diffIDs) > 4096 {
			return "", errors.New("layer chain longer than 4096 layers (a loop?)")
		}
		id = l.Parent
	}
	if len(diffIDs) == 0 {
		return "", errors.New("no layers")
	}
	slices.Reverse(diffIDs)
	return identity.ChainID(diffIDs), nil
}
