package nri

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// NRI's default validator requires a plugin by name only: another plugin
// registered as "signgate" at another index could stand in for it. Seen
// in the validator's plugin list, signgate refuses the creation, naming
// it, even for an image it would admit.
func TestValidatorRefusesAnotherSigngate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.p.setSelf("signgate", "10")
	c := ctr("c-good", "reg.io/good:v1")
	ok := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Plugins: []*api.PluginInstance{{Name: "signgate", Index: "10"}, {Name: "other", Index: "20"}}}
	if err := f.p.ValidateContainerAdjustment(ctx, ok); err != nil {
		t.Fatalf("signgate alone: %v", err)
	}
	bad := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Plugins: []*api.PluginInstance{{Name: "signgate", Index: "10"}, {Name: "signgate", Index: "99"}}}
	if err := f.p.ValidateContainerAdjustment(ctx, bad); err == nil || !strings.Contains(err.Error(), "index 99") {
		t.Fatalf("another signgate at index 99: %v", err)
	}
	alone := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Plugins: []*api.PluginInstance{{Name: "signgate", Index: "05"}}}
	if err := f.p.ValidateContainerAdjustment(ctx, alone); err == nil || !strings.Contains(err.Error(), "index 05") {
		t.Fatalf("only an impostor listed: %v", err)
	}
}
