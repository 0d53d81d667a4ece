package integration

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 26 item 3: containerd 2.2 and 2.3 restore a checkpoint when
// CreateContainer names a checkpoint archive on the node: the container is
// created on the base image named inside the checkpoint (signed here),
// and the checkpoint's rootfs-diff.tar and CRIU image (unsigned, whatever
// they are) are restored over it. signgate refuses the restore.
//
// CRIU cannot checkpoint on this machine (criu check fails on the vDSO), so
// the archive is written as containerd's own checkpoint writes it, with
// its metadata files and a root filesystem diff; containerd's restore path
// up to and including NRI's CreateContainer needs no CRIU.
func TestCheckpointRestoreIsRefused(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	base := e.image("signed/ckpt-base", "k1")
	archive := checkpointArchive(t, e.Dir, e.Registry+"/signed/ckpt-base:v1", base)
	if e.Containerd.AtLeast(2, 4) {
		// 2.4 removed the restore: the archive is no image it knows.
		if id, err := e.Create(pod, cfg, archive); err == nil || strings.Contains(err.Error(), "signgate") {
			t.Fatalf("containerd %s, a checkpoint archive: %s %v", e.Containerd.Version, id, err)
		}
		return
	}
	if !e.Containerd.AtLeast(2, 2) {
		// Only 2.2 and 2.3 are tested here (the flag the harness sets).
		t.Logf("containerd %s: no restore through CreateContainer tested here", e.Containerd.Version)
		return
	}

	id, err := e.Create(pod, cfg, archive)
	if err == nil {
		t.Fatalf("containerd created container %s restored from the checkpoint %s on the signed base %s", id, archive, base)
	}
	mustDeny(t, err, "signgate denied image", "restored from a checkpoint", "restored=", "allow_checkpoint_restore = false")

	// Allowed, a restore needs a checkpoint image named by digest and
	// verified: an archive on the node has no signature, an unsigned
	// checkpoint image is refused, a signed one is restored.
	t.Cleanup(func() {
		if err := e.RestartSigngate(harness.DefaultSigngateConfig(e.Env)); err != nil {
			t.Error(err)
		}
	})
	allow := strings.Replace(harness.DefaultSigngateConfig(e.Env), "[daemon]\n", "[daemon]\nallow_checkpoint_restore = true\n", 1)
	if err := e.RestartSigngate(allow); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(pod, cfg, archive)
	mustDeny(t, err, "restored from a checkpoint", "named by digest")

	unsigned := checkpointImage(t, e, "unsigned/ckpt", base)
	_, err = e.Create(pod, cfg, unsigned.String())
	mustDeny(t, err, "signgate denied image "+unsigned.String(), "the checkpoint the container is restored from", "no cosign signatures found")

	signed := checkpointImage(t, e, "signed/ckpt", base, "k1")
	id, err = e.Create(pod, cfg, signed.String())
	mustAllow(t, id, err)
	// containerd took the restore path: its record carries the marks.
	out, err := e.Crictl("inspect", "-o", "go-template", "--template", `{{index .info.config.annotations "restored"}} {{index .info.config.annotations "checkpointImage"}}`, id)
	if err != nil || strings.TrimSpace(out) != "true "+signed.String() {
		t.Fatalf("container %s is not a restore of %s: %q %v", id, signed, out, err)
	}
	// Its start is CRIU's restore, of an empty CRIU image here.
	out, err = e.Crictl("start", id)
	t.Logf("start of the restore: %v %s", err, lastLines(out))
}

func lastLines(s string) string {
	if i := strings.LastIndex(strings.TrimSpace(s), "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// checkpointImage pushes, signs with keys and pulls a checkpoint image of a
// container of base, as `checkpointctl`/buildah build one: the archive's
// files in one layer, the manifest annotated with the container's name.
func checkpointImage(t *testing.T, e *env, repo string, base name.Digest, keys ...string) name.Digest {
	t.Helper()
	ref := e.Registry + "/" + repo + ":v1"
	b, err := os.ReadFile(checkpointArchive(t, e.Dir, e.Registry+"/signed/ckpt-base:v1", base))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	img = mutate.Annotations(img, map[string]string{"org.criu.checkpoint.container.name": "checkpointed"}).(v1.Image)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d := r.Context().Digest(h.String())
	for _, k := range keys {
		if err := e.Signers[k].SignLegacy(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Pull(ref); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkpointArchive writes a checkpoint archive in the layout containerd's
// CRI checkpoint writes (config.dump, spec.dump, status.dump, the CRIU
// directory and rootfs-diff.tar), of a container of base.
func checkpointArchive(t *testing.T, dir, ref string, base name.Digest) string {
	t.Helper()
	now := time.Now().UTC()
	files := map[string]any{
		"config.dump": map[string]any{"id": "checkpointed", "name": "checkpointed", "rootfsImage": ref,
			"rootfsImageRef": base.String(), "rootfsImageName": ref, "runtime": "runc",
			"createdTime": now, "checkpointedTime": now},
		"spec.dump":   map[string]any{"ociVersion": "1.2.0", "annotations": map[string]string{}},
		"status.dump": map[string]any{"metadata": map[string]any{"name": "checkpointed"}, "image": map[string]any{"image": ref}, "annotations": map[string]string{}, "labels": map[string]string{}},
	}
	p, err := harness.CheckpointArchive(dir, "checkpoint-*.tar", files)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
