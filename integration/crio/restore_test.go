package crio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// TestCRIOCheckpointRestoreIsRefused: CRI-O (enable_criu_support, on by
// default wherever criu is in its PATH) restores a checkpoint when
// CreateContainer names a checkpoint archive on the node or a checkpoint
// image. It creates the container on the base image named inside the
// checkpoint, and only that creation reaches NRI: signgate sees a signed
// image and admits it. StartContainer then unpacks the checkpoint's
// rootfs-diff.tar over the root filesystem and has CRIU restore process
// memory, without calling NRI at all, so nothing of what runs was
// verified. Nothing in the spec NRI is shown marks the restore (its
// annotations come from the archive). The shipped drop-in turns CRI-O's
// checkpoint support off, so the creation is refused by CRI-O itself.
func TestCRIOCheckpointRestoreIsRefused(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "signed/crio-ckpt-base", "k1")
	archive := crioCheckpointArchive(t, e.Dir, e.Registry+"/signed/crio-ckpt-base:v1")
	const name = "restored-from-checkpoint"
	cfg, err := json.Marshal(map[string]any{"metadata": map[string]any{"name": name}, "image": map[string]any{"image": archive}, "log_path": name + ".log"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := createRaw(t, e, podID, podCfg, name, string(cfg))
	if err == nil {
		t.Fatalf("CRI-O created container %s restored from the checkpoint %s over the signed base image: its files and memory were never verified", strings.TrimSpace(id), archive)
	}
	t.Logf("refused: %v", err)
	if out, err := e.Crictl("ps", "-a", "-q", "--name", name); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("CRI-O lists %q (%v): %s", name, err, out)
	}
}

// crioCheckpointArchive writes a checkpoint archive as CRI-O's checkpoint
// writes it (config.dump, spec.dump with CRI-O's annotations, the CRIU
// directory and rootfs-diff.tar), of a container of the image ref; its
// rootfs-diff.tar holds a program no signed image has.
func crioCheckpointArchive(t *testing.T, dir, ref string) string {
	t.Helper()
	now := time.Now().UTC()
	files := map[string]any{
		"config.dump": map[string]any{"id": "checkpointed", "name": "checkpointed", "rootfsImage": ref, "rootfsImageName": ref,
			"runtime": "runc", "createdTime": now, "checkpointedTime": now},
		"spec.dump": map[string]any{"ociVersion": "1.2.0", "annotations": map[string]string{"io.kubernetes.cri-o.Annotations": "{}"}},
	}
	p, err := harness.CheckpointArchive(dir, "crio-checkpoint-*.tar", files)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
