package crio

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
)

// CRI-O's containers.Runtime answer: the image its storage made the
// container from, under every name, bound to the container's layers and
// platform manifest, whatever a CRI image-name annotation in the spec
// claims; a spec whose ImageRef lies is doubted; a CRI-O image volume is
// bound through CRI-O's layout; the sandbox and a running container are
// answered from the same record.
func TestCRIORuntimeAnswersFromItsStorage(t *testing.T) {
	f := newFixture(t)
	app := f.pull(t, 3, "reg.io/app:v1")
	signed := f.pull(t, 2, "reg.io/signed:v1")
	vol := f.pull(t, 2, "reg.io/vol:v1")
	f.create(t, "c1", app, app.top)
	f.create(t, "pod1", signed, signed.top)
	rt := Runtime{Store: &Store{Storage: f.s, Volumes: runVolumes()}}
	ctx := context.Background()
	pod := &api.PodSandbox{Id: "pod1"}

	c := ctr("c1", app.id)
	// A spec that names the signed image where containerd looks is not read.
	c.Annotations[containers.ImageNameAnnotation] = "reg.io/signed:v1"
	c.Mounts = []*api.Mount{{Destination: "/data", Type: "overlay", Source: "overlay",
		Options: []string{"lowerdir=" + filepath.Join(f.s.Root, "overlay", vol.top, "merged") + ":/run/crio/image-volumes"}}}
	for name, runs := range map[string]containers.Runs{"Runs": rt.Runs(ctx, pod, c), "Ran": rt.Ran(ctx, pod, c)} {
		root := runs.Root
		if root.Doubt != nil || len(root.Names) != 1 || root.Names[0].String() != "reg.io/app@"+app.manifest.String() || root.Chain != app.chain {
			t.Fatalf("%s: root = %+v (doubt %v); want reg.io/app@%s on chain %s", name, root, root.Doubt, app.manifest, app.chain)
		}
		if root.Platforms[app.manifest.String()] != app.manifest {
			t.Errorf("%s: platforms = %v; want the manifest itself", name, root.Platforms)
		}
		if len(runs.Mounts) != 1 || runs.Mounts[0].Doubt != nil || runs.Mounts[0].Names[0].String() != "reg.io/vol@"+vol.manifest.String() {
			t.Errorf("%s: mounts = %+v; want the image volume bound to reg.io/vol", name, runs.Mounts)
		}
	}
	if d := rt.AsCreated(ctx, c, rt.Runs(ctx, pod, c).Root.Names[0]); d != nil {
		t.Errorf("AsCreated: %v", d)
	}
	if d := rt.AsCreated(ctx, c, rt.Sandbox(ctx, pod).Names[0]); d == nil {
		t.Error("AsCreated against another image: no doubt")
	}
	// A record naming an image its layer is not built on was read, and
	// contradicts: said so, not called unreadable.
	f.create(t, "c3", signed, app.top)
	if d := rt.AsCreated(ctx, ctr("c3", signed.id), rt.Sandbox(ctx, pod).Names[0]); d == nil || d.Kind != containers.NotBuiltFrom ||
		strings.Contains(d.Reason, "cannot read") || !strings.Contains(d.Reason, "not on the top layer") {
		t.Errorf("AsCreated of a record whose image its layer is not built on: %+v", d)
	}
	if d := rt.AsCreated(ctx, ctr("gone", app.id), rt.Sandbox(ctx, pod).Names[0]); d == nil || d.Kind != containers.Unknown || !strings.Contains(d.Reason, "cannot read what it was created from") {
		t.Errorf("AsCreated of a container CRI-O's storage does not hold: %+v", d)
	}

	liar := ctr("c1", signed.id)
	if runs := rt.Runs(ctx, pod, liar); runs.Root.Doubt == nil || !strings.Contains(runs.Root.Doubt.Reason, app.id) {
		t.Errorf("ImageRef naming another image: root %+v; want doubted, naming the storage's image", runs.Root)
	}
	if runs := rt.Runs(ctx, pod, ctr("gone", app.id)); runs.Root.Doubt == nil {
		t.Error("a container CRI-O's storage does not hold: not doubted")
	}

	sb := rt.Sandbox(ctx, pod)
	if sb.Doubt != nil || len(sb.Names) != 1 || sb.Names[0].String() != "reg.io/signed@"+signed.manifest.String() {
		t.Errorf("Sandbox = %+v (doubt %v)", sb, sb.Doubt)
	}
	if sb := rt.Sandbox(ctx, &api.PodSandbox{Id: "pod2"}); sb.Doubt == nil {
		t.Error("a sandbox with no record: not doubted")
	}
}
