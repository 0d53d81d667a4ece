package nri

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/imagestore"
)

// restored is a container as containerd's CRImportCheckpoint creates it: on
// the (trusted) base image, with the checkpoint named in an annotation.
func restored(id, base, checkpoint string) *api.Container {
	c := ctr(id, base)
	c.Annotations[imagestore.RestoredAnnotation] = "true"
	c.Annotations["checkpointedAt"] = "2026-12-06T14:00:00Z"
	c.Annotations[imagestore.CheckpointImageAnnotation] = checkpoint
	return c
}

// TestRestoredContainersAreRefused: a restore runs the checkpoint's files and
// memory, which the base image's verdict says nothing about.
func TestRestoredContainersAreRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ckpt := "reg.io/good@sha256:" + hexOf('1') // even a trusted one
	for _, c := range []*api.Container{
		restored("c-good", "reg.io/good:v1", ckpt),
		restored("c-good", "reg.io/good:v1", ""),                      // an archive, or no user_specified_image
		restored("c-good", "reg.io/good:v1", "/var/lib/ckpt/app.tar"), // an archive on the node
	} {
		_, _, err := f.p.CreateContainer(ctx, f.pod, c)
		if err == nil || !strings.Contains(err.Error(), "restored from a checkpoint") || !strings.Contains(err.Error(), "allow_checkpoint_restore = false") {
			t.Errorf("a restore from %q: %v", c.Annotations[imagestore.CheckpointImageAnnotation], err)
		}
	}
	// Without the annotation, the same container is allowed.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreOnlyFromAVerifiedCheckpointImage: with
// allow_checkpoint_restore, a restore is admitted only from a checkpoint
// image named by digest and allowed under its own policy.
func TestRestoreOnlyFromAVerifiedCheckpointImage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.p.AllowCheckpointRestore = true
	good, bad := "reg.io/ckpt@sha256:"+hexOf('5'), "reg.io/bad@sha256:"+hexOf('2')
	f.store.names[good] = []name.Digest{dig(t, good)}
	f.store.names[bad] = []name.Digest{dig(t, bad)}
	f.store.names["reg.io/ckpt:v1"] = []name.Digest{dig(t, good)}
	f.eng.setTrusted("reg.io/ckpt", true)
	if _, _, err := f.p.CreateContainer(ctx, f.pod, restored("c-good", "reg.io/good:v1", good)); err != nil {
		t.Fatalf("a verified checkpoint image by digest: %v", err)
	}
	if ds := f.rec.ds; len(ds) != 2 || ds[1].Ref != good || !ds[1].Verdict.Allowed {
		t.Fatalf("the checkpoint was not decided: %+v", ds)
	}
	for ckpt, want := range map[string]string{
		bad:                                "the checkpoint the container is restored from: no cosign signatures",
		"reg.io/ckpt:v1":                   "named by digest",
		"":                                 "named by digest",
		"/var/lib/ckpt/app.tar":            "named by digest",
		"reg.io/gone@sha256:" + hexOf('7'): "cannot determine the checkpoint image",
	} {
		_, _, err := f.p.CreateContainer(ctx, f.pod, restored("c-good", "reg.io/good:v1", ckpt))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a restore from %q: %v, want %q", ckpt, err, want)
		}
	}
	// A restore on an untrusted base image is refused for the base.
	_, _, err := f.p.CreateContainer(ctx, f.pod, restored("c-bad", "reg.io/bad:v1", good))
	if err == nil || !strings.Contains(err.Error(), "signgate denied image reg.io/bad:v1") {
		t.Fatalf("a restore on an untrusted base: %v", err)
	}
}
