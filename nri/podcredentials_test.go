package nri

import (
	"context"
	"sync"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// podCreds names the pod (by UID) it was made for.
type podCreds struct{ uid string }

func (p podCreds) Credential(name.Repository) (authn.Authenticator, string, bool) {
	return nil, "", false
}
func (p podCreds) Scope(name.Repository) string { return "secret:" + p.uid }
func (p podCreds) None(name.Repository) string  { return "" }

// credsSeen records the credentials each request brought.
type credsSeen struct {
	Decider
	mu   sync.Mutex
	seen []string
}

func (c *credsSeen) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	c.mu.Lock()
	s := "none"
	if req.Credentials != nil {
		s = req.Credentials.Scope(req.Image.Context())
	}
	c.seen = append(c.seen, s)
	c.mu.Unlock()
	return c.Decider.Decide(ctx, req)
}

// Every request of a pod, its sandbox image's included, carries that
// pod's own credentials, and those only; the start of a container decides
// again with the ones it was created with.
func TestRequestsCarryThePodsCredentials(t *testing.T) {
	f := newFixture(t)
	seen := &credsSeen{Decider: f.eng}
	f.p.Decider = seen
	f.p.PodCredentials = func(_ context.Context, pod *api.PodSandbox) registry.PodCredentials {
		return podCreds{uid: pod.GetUid()}
	}
	ctx := context.Background()
	a := &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default", Uid: "uid-a"}
	b := &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default", Uid: "uid-b"}
	if err := f.p.RunPodSandbox(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.p.CreateContainer(ctx, a, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.p.CreateContainer(ctx, b, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	if err := f.p.StartContainer(ctx, b, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatal(err)
	}
	want := []string{"secret:uid-a", "secret:uid-a", "secret:uid-b", "secret:uid-b"}
	if len(seen.seen) != len(want) {
		t.Fatalf("requests %v, want %v", seen.seen, want)
	}
	for i := range want {
		if seen.seen[i] != want[i] {
			t.Fatalf("requests %v, want %v", seen.seen, want)
		}
	}
	// Off: no credentials at all.
	f.p.PodCredentials = nil
	seen.seen = nil
	if _, _, err := f.p.CreateContainer(ctx, a, ctr("c-good", "reg.io/good:v1")); err != nil || len(seen.seen) != 1 || seen.seen[0] != "none" {
		t.Fatalf("off: %v %v", err, seen.seen)
	}
}
