package imagestore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
)

// TestRunsInOneCall: containerd's answer to "what does this container run",
// through the gRPC API: the names, bound to the layers of the root
// filesystem and of each image volume; the sandbox's image; the record at
// start. What is not established is a doubt of the right kind, naming the
// image.
func TestRunsInOneCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, s := start(t)
	app, appCfg, chain := f.image("app")
	vol, _, volChain := f.image("vol")
	_, _, otherChain := f.image("other")
	f.images["reg.io/team/app:v1"] = app.String()
	f.images["reg.io/vol:v1"] = vol.String()
	f.snapshots["overlayfs/c1"] = chain.String()
	f.snapshots["overlayfs/c2"] = otherChain.String()
	dir := "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/sb1/" + vol.Encoded()
	f.snapshots["overlayfs/"+dir] = volChain.String()
	named := func(id, ref string, mounts ...*api.Mount) *api.Container {
		return &api.Container{Id: id, Annotations: map[string]string{containers.ImageNameAnnotation: ref}, Mounts: mounts}
	}
	pod := &api.PodSandbox{Id: "sb1"}

	c := named("c1", "reg.io/team/app:v1",
		&api.Mount{Destination: "/etc/hosts", Source: "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/hosts"},
		&api.Mount{Destination: "/vol", Source: dir})
	c.Image = &api.Image{Name: "reg.io/team/app:v1", Digest: app.String(), ConfigDigest: appCfg.String()}
	runs := s.Runs(ctx, pod, c)
	if r := runs.Root; r.Doubt != nil || fmt.Sprint(r.Names) != "[reg.io/team/app@"+app.String()+"]" || r.Chain != chain || r.Config != appCfg || !runs.RuntimeImage {
		t.Fatalf("root: %+v (doubt %v)", r, r.Doubt)
	}
	if len(runs.Mounts) != 1 || runs.Mounts[0].Doubt != nil || fmt.Sprint(runs.Mounts[0].Names) != "[reg.io/vol@"+vol.String()+"]" || runs.Mounts[0].Chain != volChain {
		t.Fatalf("mounts: %+v", runs.Mounts)
	}
	if runs.Restore != nil {
		t.Fatalf("not restored, yet %+v", runs.Restore)
	}

	for _, c := range []struct {
		name string
		ctr  *api.Container
		kind containers.Kind
		want string
	}{
		{"another image's layers", named("c2", "reg.io/team/app:v1"), containers.NotBuiltFrom, "is not built from reg.io/team/app@"},
		{"no snapshot", named("c3", "reg.io/team/app:v1"), containers.Unknown, "no snapshot c3"},
		{"not pulled", named("c1", "reg.io/team/gone:v1"), containers.Unknown, "cannot determine the digest that will run"},
		{"no annotation", &api.Container{Id: "c1"}, containers.Unknown, "carries no " + containers.ImageNameAnnotation},
		{"the runtime says otherwise", func() *api.Container {
			c := named("c1", "reg.io/team/app:v1")
			c.Image = &api.Image{Digest: vol.String()}
			return c
		}(), containers.Disagrees, "the runtime reports the container's image as " + vol.String()},
	} {
		d := s.Runs(ctx, pod, c.ctr).Root.Doubt
		if d == nil || d.Kind != c.kind || !strings.Contains(d.Reason, c.want) {
			t.Errorf("%s: doubt %+v; want kind %d saying %q", c.name, d, c.kind, c.want)
		}
	}
	// A volume whose snapshot holds other layers.
	f.snapshots["overlayfs/"+dir] = otherChain.String()
	if m := s.Runs(ctx, pod, named("c1", "reg.io/team/app:v1", &api.Mount{Destination: "/vol", Source: dir})).Mounts; len(m) != 1 || m[0].Doubt == nil || m[0].Doubt.Kind != containers.NotBuiltFrom || !strings.Contains(m[0].Doubt.Reason, "mounted as the image volume at /vol") {
		t.Fatalf("a volume on other layers: %+v", m)
	}

	f.containers["sb1"] = &containersapi.Container{ID: "sb1", Image: "reg.io/team/app:v1", Snapshotter: "overlayfs", SnapshotKey: "c1"}
	if sb := s.Sandbox(ctx, pod); sb.Doubt != nil || fmt.Sprint(sb.Names) != "[reg.io/team/app@"+app.String()+"]" {
		t.Fatalf("sandbox: %+v (doubt %v)", sb, sb.Doubt)
	}
	f.containers["c1"] = criRecord("c1", appCfg.String())
	img := s.Runs(ctx, pod, named("c1", "reg.io/team/app:v1")).Root.Names[0]
	if d := s.AsCreated(ctx, &api.Container{Id: "c1"}, img); d != nil {
		t.Fatalf("as created: %v", d)
	}
	if d := s.AsCreated(ctx, &api.Container{Id: "c9"}, img); d == nil || d.Kind != containers.Unknown || d.Name == nil || !strings.Contains(d.Reason, "cannot read what it was created from") {
		t.Fatalf("no record: %+v", d)
	}
}
