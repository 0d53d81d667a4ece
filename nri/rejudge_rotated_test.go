package nri

import (
	"context"
	"sync"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// scopeAnswers answers a request read with the credential of a given
// scope as the registry and the policy would, else as its Decider does.
type scopeAnswers struct {
	Decider
	mu sync.Mutex
	by map[string]verify.Cause
}

func (s *scopeAnswers) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	scope := "none"
	if req.Credentials != nil {
		scope = req.Credentials.Scope(req.Image.Context())
	}
	s.mu.Lock()
	cause, ok := s.by[scope]
	s.mu.Unlock()
	if !ok {
		return s.Decider.Decide(ctx, req)
	}
	return verify.Deny(req.Image.Context().String(), req.Image.DigestStr(), cause, string(cause)+" with "+scope)
}

// rotatingSecret has f's plugin read each pod's credential from a secret
// at version 1; rotate edits the secret.
func rotatingSecret(f *fixture) (rotate func(edit func(*secretCreds))) {
	var mu sync.Mutex
	now := secretCreds{version: 1}
	f.p.PodCredentials = func(_ context.Context, pod *api.PodSandbox) registry.PodCredentials {
		mu.Lock()
		defer mu.Unlock()
		c := now
		c.uid = pod.GetUid()
		return c
	}
	return func(edit func(*secretCreds)) {
		mu.Lock()
		defer mu.Unlock()
		edit(&now)
	}
}

// runGoodPod runs sandbox sb-good (pod "pod" in default, UID uid-a).
func runGoodPod(t *testing.T, f *fixture) *api.PodSandbox {
	t.Helper()
	pod := &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default", Uid: "uid-a"}
	if err := f.p.RunPodSandbox(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// A pod's secret rotated to a credential the registry refuses (a 401:
// registry_error, which stops nothing) must not hide a revocation the
// credential the container was admitted with still reads: whoever can
// write a secret in the namespace could otherwise keep a revoked image
// running for good. The admission's credential is asked too, and its
// final answer stands.
func TestJudgeRotatedSecretRefusedDoesNotHideARevocation(t *testing.T) {
	f := newFixture(t)
	ans := &scopeAnswers{Decider: f.eng, by: map[string]verify.Cause{}}
	f.p.Decider = ans
	rotate := rotatingSecret(f)
	ctx := context.Background()
	pod := runGoodPod(t, f)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	if err := f.p.StartContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	rotate(func(c *secretCreds) { c.version = 2 }) // rotated to a password the registry refuses
	ans.mu.Lock()
	ans.by["secret:uid-a@2"] = verify.CauseRegistryError
	ans.by["secret:uid-a@1"] = verify.CauseUntrusted // the key revoked
	ans.mu.Unlock()
	for _, id := range []string{"sb-good", "c-good"} {
		j, ok := f.p.Judge(ctx, id)
		if !ok || j.Decision.Verdict.Allowed || j.Decision.Verdict.Cause != verify.CauseUntrusted {
			t.Errorf("%s: judged %v %+v, want the revocation the admission's credential reads", id, ok, j.Decision.Verdict)
		}
	}
	// The registry refusing both: not final, as before.
	ans.mu.Lock()
	ans.by["secret:uid-a@1"] = verify.CauseRegistryError
	ans.mu.Unlock()
	for _, id := range []string{"sb-good", "c-good"} {
		if j, ok := f.p.Judge(ctx, id); !ok || j.Decision.Verdict.Cause != verify.CauseRegistryError {
			t.Errorf("%s: judged %v %+v, want registry_error", id, ok, j.Decision.Verdict)
		}
	}
}

// A reconnection (Synchronize lists what runs again) keeps the
// credential a still-running sandbox was admitted with: without it, a
// secret deleted after any containerd restart would leave the sandbox
// judged with the node's credentials alone (a 401 that stops nothing).
func TestSynchronizeKeepsTheSandboxesAdmittedCredential(t *testing.T) {
	f := newFixture(t)
	seen := &credsSeen{Decider: f.eng}
	f.p.Decider = seen
	rotate := rotatingSecret(f)
	ctx := context.Background()
	pod := runGoodPod(t, f)
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{pod}, nil); err != nil {
		t.Fatal(err)
	}
	rotate(func(c *secretCreds) { c.none = true }) // the secret deleted
	seen.mu.Lock()
	seen.seen = nil
	seen.mu.Unlock()
	if j, ok := f.p.Judge(ctx, "sb-good"); !ok {
		t.Fatal("sandbox not known")
	} else if seen.mu.Lock(); len(seen.seen) != 1 || seen.seen[0] != "secret:uid-a@1" {
		t.Errorf("after a reconnection, the sandbox was judged with %v (%+v), want its admission's secret:uid-a@1", seen.seen, j.Decision.Verdict)
	}
	seen.mu.Unlock()

	// Another pod reusing the ID (not seen in practice) gets none of it.
	other := &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default", Uid: "uid-b"}
	if _, err := f.p.Synchronize(ctx, []*api.PodSandbox{other}, nil); err != nil {
		t.Fatal(err)
	}
	seen.mu.Lock()
	seen.seen = nil
	seen.mu.Unlock()
	f.p.Judge(ctx, "sb-good")
	seen.mu.Lock()
	if len(seen.seen) != 1 || seen.seen[0] != "unread:uid-b" {
		t.Errorf("a pod of another UID was judged with %v", seen.seen)
	}
	seen.mu.Unlock()
}
