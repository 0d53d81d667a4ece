package nri

import (
	"context"
	"errors"
	"testing"
)

// Configure records the runtime it names (for /readyz and doctor) and asks
// OnRuntime whether signgate gates it: a refusal fails the registration,
// and is not taken for CRI-O refusing the validator subscription.
func TestConfigureChecksTheRuntime(t *testing.T) {
	f := newFixture(t)
	refused := errors.New("not the configured runtime")
	f.p.OnRuntime = func(name, version string) error {
		if name == "cri-o" {
			return refused
		}
		return nil
	}
	if _, err := f.p.Configure(context.Background(), "", "cri-o", "1.35.2"); !errors.Is(err, refused) {
		t.Fatalf("Configure from a refused runtime: %v", err)
	}
	if r, ok := f.p.Peer(); !ok || r != (Peer{Name: "cri-o", Version: "1.35.2"}) {
		t.Fatalf("peer %+v %v", r, ok)
	}
	f.p.fallback.closedBeforeStart() // the runtime closes the refused connection
	if f.p.ValidatorRefused() {
		t.Fatal("a runtime signgate refused was taken to refuse the validator")
	}
	if _, err := f.p.Configure(context.Background(), "", "containerd", "v2.2.9"); err != nil {
		t.Fatalf("Configure from an accepted runtime: %v", err)
	}
	if r, _ := f.p.Peer(); r.Name != "containerd" {
		t.Fatalf("peer %+v", r)
	}
}
