package crio

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCRIOWithCheckpointRestoreRefusesCreations: on a CRI-O that restores
// checkpoints (enable_criu_support on, criu in its PATH: a drop-in after
// signgate's turns it on again), a creation on a signed image may be a
// checkpoint's restore, whose files and memory NRI never shows: signgate,
// reading CRI-O's running config on crio_socket, or CRI-O's files without
// it, refuses every creation, naming the key and where it read it, unless
// the node opts out with crio_checkpoint_restore_unsafe. With restores off
// (the shipped drop-in) the same creation is admitted.
func TestCRIOWithCheckpointRestoreRefusesCreations(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/crio-criu:v1"
	image(t, e, "signed/crio-criu", "k1")
	orig := e.SigngateConfig()
	withSocket := withCRIOSocket(e, orig, "crio")
	if withSocket == orig {
		t.Fatalf("the suite's config has no [daemon.runtime] to change:\n%s", orig)
	}
	t.Cleanup(func() {
		if err := e.RestartCRIO(map[string]string{"99-criu.conf": ""}); err != nil {
			t.Errorf("CRI-O with restores off again: %v", err)
		}
		if err := e.RestartSigngate(orig); err != nil {
			t.Errorf("signgate with the suite's config: %v", err)
		}
	})
	if err := e.RestartSigngate(withSocket); err != nil {
		t.Fatal(err)
	}
	podID, podCfg := pod(t, e)
	if _, err := e.Create(podID, podCfg, ref); err != nil {
		t.Fatalf("restores off (the shipped drop-in): a signed image refused: %v", err)
	}
	if err := e.RestartCRIO(map[string]string{"99-criu.conf": "[crio.runtime]\nenable_criu_support = true\n"}); err != nil {
		t.Fatal(err)
	}
	podID, podCfg = pod(t, e)
	_, err := e.Create(podID, podCfg, ref)
	mustDeny(t, err, "enable_criu_support is on", "GET /config on "+e.ContainerdSock, "crio_checkpoint_restore_unsafe")
	// Without crio_socket (the suite's config), CRI-O's files say so.
	if err := e.RestartSigngate(orig); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(podID, podCfg, ref)
	mustDeny(t, err, "enable_criu_support is on (in "+filepath.Join(e.Dir, "crio", "conf.d", "99-criu.conf")+")", "crio_checkpoint_restore_unsafe")
	unsafe := strings.Replace(withSocket, "crio_socket = ", "crio_checkpoint_restore_unsafe = true\ncrio_socket = ", 1)
	if err := e.RestartSigngate(unsafe); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(podID, podCfg, ref); err != nil {
		t.Fatalf("crio_checkpoint_restore_unsafe = true: a signed image refused: %v", err)
	}
}
