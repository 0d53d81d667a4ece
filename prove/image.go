package prove

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// blob is one piece of the probe image, with its descriptor.
type blob struct {
	desc ocispec.Descriptor
	data []byte
	// labels tell containerd's garbage collector what the blob holds on to.
	labels map[string]string
}

// probeImage is a one-layer image made here: its layer holds a file with
// a fresh nonce, so its digest has never existed before this run, and no
// signature, attestation or registry can know it.
type probeImage struct {
	nonce    string
	layer    blob
	config   blob
	manifest blob
}

var specsVersion = specs.Versioned{SchemaVersion: 2}

// Command is what the probe container would run; it never does.
const Command = "/signgate-prove"

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func buildImage(nonce string, now time.Time) (*probeImage, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte("signgate enforcement probe " + nonce + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "signgate-prove", Mode: 0o644, Size: int64(len(body)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer := newBlob(ocispec.MediaTypeImageLayer, tb.Bytes(), nil)
	created := now.UTC()
	cfg, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Cmd: []string{Command}, Labels: map[string]string{"dev.signgate.prove": nonce}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.desc.Digest}},
	})
	if err != nil {
		return nil, err
	}
	config := newBlob(ocispec.MediaTypeImageConfig, cfg, nil)
	m, err := json.Marshal(ocispec.Manifest{
		Versioned: specsVersion,
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config.desc,
		Layers:    []ocispec.Descriptor{layer.desc},
	})
	if err != nil {
		return nil, err
	}
	manifest := newBlob(ocispec.MediaTypeImageManifest, m, map[string]string{
		"containerd.io/gc.ref.content.config": config.desc.Digest.String(),
		"containerd.io/gc.ref.content.l.0":    layer.desc.Digest.String(),
	})
	return &probeImage{nonce: nonce, layer: layer, config: config, manifest: manifest}, nil
}

func newBlob(mediaType string, data []byte, labels map[string]string) blob {
	return blob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data, labels: labels}
}
