package policysource

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/signgate/signgate/config"
)

// Build makes the artifact for body, the TOML of a policy fragment
// (checked first, so nothing unreadable is published): an OCI image
// manifest whose config is empty JSON of PolicyArtifactType and whose one
// layer is body, of PolicyMediaType.
func Build(body []byte) (v1.Image, *config.Fragment, error) {
	frag, err := config.ParseFragment("policy", body)
	if err != nil {
		return nil, nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(config.PolicyArtifactType))
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(body, types.MediaType(config.PolicyMediaType))})
	if err != nil {
		return nil, nil, err
	}
	return img, frag, nil
}

// Read takes the policy out of img, named what in errors: exactly one
// layer of PolicyMediaType, whose content matches its digest, no larger
// than max bytes.
func Read(what string, img v1.Image, max int64) ([]byte, *config.Fragment, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if m.Config.MediaType != types.MediaType(config.PolicyArtifactType) || len(m.Layers) != 1 || m.Layers[0].MediaType != types.MediaType(config.PolicyMediaType) {
		return nil, nil, fmt.Errorf("%s is not a signgate policy artifact: want config %s and one layer %s", what, config.PolicyArtifactType, config.PolicyMediaType)
	}
	d := m.Layers[0]
	if d.Size > max {
		return nil, nil, fmt.Errorf("%s: its policy layer is %d bytes, above registry.max_blob_bytes (%d)", what, d.Size, max)
	}
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading its policy layer: %w", what, err)
	}
	// The signature covers the manifest; the manifest names this digest.
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest.String() {
		return nil, nil, fmt.Errorf("%s: its policy layer is %s, not the %s its manifest names", what, got, d.Digest)
	}
	frag, err := config.ParseFragment(what, body)
	if err != nil {
		return nil, nil, err
	}
	return body, frag, nil
}
