package crio

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rawManifest is a manifest pushed as written.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// pushArtifact pushes an OCI artifact (artifactType set, the empty config)
// holding one file, titled title, to ref, as `oras push` would.
func pushArtifact(t *testing.T, ref, title, content string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	file := static.NewLayer([]byte(content), "application/octet-stream")
	cfg := static.NewLayer([]byte("{}"), types.MediaType(ocispec.MediaTypeEmptyJSON))
	var descs []ocispec.Descriptor
	for _, l := range []v1.Layer{file, cfg} {
		if err := remote.WriteLayer(r.Context(), l); err != nil {
			t.Fatalf("push a blob to %s: %v", ref, err)
		}
		d, _ := l.Digest()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		descs = append(descs, ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.String()), Size: size})
	}
	descs[0].Annotations = map[string]string{ocispec.AnnotationTitle: title}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.signgate.test.payload",
		Config: descs[1], Layers: descs[:1]}
	m.SchemaVersion = 2
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r, rawManifest{body, types.OCIManifestSchema1}); err != nil {
		t.Fatalf("push the artifact %s: %v", ref, err)
	}
}

// TestCRIOArtifactVolumeRefusedOnCRIO: an image volume naming an OCI
// artifact, on a CRI-O that mounts artifacts (oci_artifact_mount_support
// on, its default), is a bind of the artifact's file from CRI-O's
// artifact store into a signed image's container: signgate refuses the
// creation, naming the mount and saying it is an OCI artifact volume.
// Before, it was created, the artifact's script unverified in it. With
// the shipped drop-in (the key off) CRI-O fails the creation itself.
func TestCRIOArtifactVolumeRefusedOnCRIO(t *testing.T) {
	e := need(t)
	image(t, e, "artifact/signed", "k1")
	root := e.Registry + "/artifact/signed:v1"
	art := e.Registry + "/artifact/payload:v1"
	pushArtifact(t, art, "run.sh", "#!/bin/sh\necho unverified\n")
	if out, err := e.Crictl("pull", art); err != nil {
		t.Fatalf("CRI-O pulls the artifact %s: %v: %s", art, err, out)
	}
	create := func(name string) error {
		podID, podCfg := pod(t, e)
		_, err := createRaw(t, e, podID, podCfg, name, fmt.Sprintf(
			`{"metadata":{"name":%[1]q},"image":{"image":%[2]q},"log_path":"%[1]s.log","mounts":[{"container_path":"/x","image":{"image":%[3]q,"user_specified_image":%[3]q},"readonly":true}]}`, name, root, art))
		return err
	}
	err := create("artifact-off")
	mustDeny(t, err, "does not exist locally")
	t.Cleanup(func() {
		if err := e.RestartCRIO(map[string]string{"99-artifacts.conf": ""}); err != nil {
			t.Errorf("CRI-O with artifact volumes off again: %v", err)
		}
	})
	if err := e.RestartCRIO(map[string]string{"99-artifacts.conf": "[crio.image]\noci_artifact_mount_support = true\n"}); err != nil {
		t.Fatal(err)
	}
	mustDeny(t, create("artifact-on"), "signgate denied", "the mount at /x/run.sh", "/artifacts/blobs/sha256/", "OCI artifact volume, which signgate cannot verify yet")
}
