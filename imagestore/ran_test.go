package imagestore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
)

// A running container is bound to containerd's record of what it was
// created from, through the gRPC API: after its tag moved to another
// image, Ran still names the image it runs (by its config, under the
// repository it names), where Runs, resolving the tag, names the new one
// and doubts it. NRI's image (2.4) must agree; no record is a doubt.
func TestRanIsBoundToTheRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, s := start(t)
	app, appCfg, chain := f.image("app")
	moved, _, _ := f.image("app v2")
	f.images["reg.io/team/app:v1"] = moved.String() // the tag moved since c1 started
	f.images["reg.io/team/app@"+app.String()] = app.String()
	f.images[appCfg.String()] = app.String() // CRI's ID record
	f.snapshots["overlayfs/c1"] = chain.String()
	f.containers["c1"] = criRecord("c1", appCfg.String())
	c := &api.Container{Id: "c1", Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/team/app:v1"}}

	if d := s.Runs(ctx, nil, c).Root.Doubt; d == nil || d.Kind != containers.NotBuiltFrom {
		t.Fatalf("resolving the moved tag again: %+v", d)
	}
	if r := s.Ran(ctx, nil, c).Root; r.Doubt != nil || fmt.Sprint(r.Names) != "[reg.io/team/app@"+app.String()+"]" || r.Chain != chain || r.Config != appCfg {
		t.Fatalf("from the record: %+v (doubt %v)", r, r.Doubt)
	}
	c.Image = &api.Image{Name: "reg.io/team/app:v1", Digest: app.String(), ConfigDigest: appCfg.String()}
	if r := s.Ran(ctx, nil, c).Root; r.Doubt != nil || fmt.Sprint(r.Names) != "[reg.io/team/app@"+app.String()+"]" {
		t.Fatalf("with NRI's image: %+v (doubt %v)", r, r.Doubt)
	}
	c.Image.Digest = moved.String()
	if d := s.Ran(ctx, nil, c).Root.Doubt; d == nil || d.Kind != containers.Disagrees {
		t.Fatalf("NRI names another image: %+v", d)
	}
	c.Image, c.Id = nil, "c9"
	if d := s.Ran(ctx, nil, c).Root.Doubt; d == nil || d.Kind != containers.Unknown || !strings.Contains(d.Reason, "cannot read what the running container was created from") {
		t.Fatalf("no record: %+v", d)
	}
}
