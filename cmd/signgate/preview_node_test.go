package main

import (
	"strings"
	"testing"
)

// preview --node reads containerd's image store only: on a CRI-O config it
// refuses at once, naming --images, instead of dialling a containerd
// socket the node does not have.
func TestPreviewNodeRefusesOnCRIO(t *testing.T) {
	cfg := writeConfig(t, "\n[daemon.runtime]\nname = \"crio\"\n"+allowAll)
	r := signgate(t, nil, "preview", "--config", cfg, "--node")
	if r.code != 2 || !strings.Contains(r.stderr, `daemon.runtime.name is "crio"`) || !strings.Contains(r.stderr, "--images FILE") {
		t.Errorf("preview --node on a CRI-O config: exit %d, want 2 naming the runtime and --images\n%s", r.code, r.stderr)
	}
}
