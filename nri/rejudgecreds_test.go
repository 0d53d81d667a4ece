package nri

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
)

// secretCreds is a pod's credentials as one lookup read them: a
// credential (scope uid@version), or none.
type secretCreds struct {
	uid     string
	version int
	none    bool
}

func (s secretCreds) Credential(name.Repository) (authn.Authenticator, string, bool) {
	if s.none {
		return nil, "", false
	}
	return authn.Anonymous, "pull secret", true
}

func (s secretCreds) Scope(name.Repository) string {
	if s.none {
		return "unread:" + s.uid
	}
	return fmt.Sprintf("secret:%s@%d", s.uid, s.version)
}

func (s secretCreds) None(name.Repository) string { return "no pod pull secret (" + s.uid + ")" }

// A running container and a pod's sandbox are judged with their pod's
// credentials looked up again (a secret rotated since admission reads
// with its new content), for that pod only (by its UID, and a static pod
// still says it is static); where the lookup gives no credential, with
// the one they were admitted with.
func TestJudgeLooksThePodsCredentialsUpAgain(t *testing.T) {
	f := newFixture(t)
	seen := &credsSeen{Decider: f.eng}
	f.p.Decider = seen
	var (
		mu     sync.Mutex
		now    = secretCreds{version: 1}
		lookup []string
	)
	f.p.PodCredentials = func(_ context.Context, pod *api.PodSandbox) registry.PodCredentials {
		mu.Lock()
		defer mu.Unlock()
		lookup = append(lookup, pod.GetNamespace()+"/"+pod.GetName()+"/"+pod.GetUid()+"/"+pod.GetAnnotations()[configSource])
		c := now
		c.uid = pod.GetUid()
		return c
	}
	ctx := context.Background()
	pod := &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default", Uid: "uid-a", Annotations: map[string]string{configSource: "api", "big": "dropped"}}
	if err := f.p.RunPodSandbox(ctx, pod); err != nil {
		t.Fatal(err)
	}
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	if err := f.p.StartContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	judge := func() []string {
		t.Helper()
		seen.mu.Lock()
		seen.seen = nil
		seen.mu.Unlock()
		for _, id := range []string{"sb-good", "c-good"} {
			if j, ok := f.p.Judge(ctx, id); !ok || !j.Decision.Verdict.Allowed {
				t.Fatalf("%s: %v %+v", id, ok, j.Decision.Verdict)
			}
		}
		seen.mu.Lock()
		defer seen.mu.Unlock()
		return append([]string(nil), seen.seen...)
	}
	mu.Lock()
	now.version = 2 // rotated
	lookup = nil
	mu.Unlock()
	if got := judge(); fmt.Sprint(got) != "[secret:uid-a@2 secret:uid-a@2]" {
		t.Fatalf("after the secret rotated, judged with %v", got)
	}
	if fmt.Sprint(lookup) != "[default/pod/uid-a/api default/pod/uid-a/api]" {
		t.Fatalf("looked up %v", lookup)
	}
	mu.Lock()
	now.none = true // the API server cannot be read
	mu.Unlock()
	if got := judge(); fmt.Sprint(got) != "[secret:uid-a@1 secret:uid-a@1]" {
		t.Fatalf("with no credential looked up, judged with %v, want the admission's", got)
	}

	// Off: as admitted (with none).
	f2 := newFixture(t)
	seen2 := &credsSeen{Decider: f2.eng}
	f2.p.Decider = seen2
	if err := f2.p.RunPodSandbox(ctx, f2.pod); err != nil {
		t.Fatal(err)
	}
	if j, ok := f2.p.Judge(ctx, "sb-good"); !ok || !j.Decision.Verdict.Allowed || fmt.Sprint(seen2.seen) != "[none none]" {
		t.Fatalf("off: %v %v", ok, seen2.seen)
	}
}

// rejudging prefers the credential looked up now, then the admission's,
// and says why there is none as the lookup does.
func TestRejudgingPicksTheCredential(t *testing.T) {
	repo, _ := name.NewRepository("reg.io/app")
	now, admitted := secretCreds{uid: "a", version: 2}, secretCreds{uid: "a", version: 1}
	none := secretCreds{uid: "a", none: true}
	for _, c := range []struct {
		now, admitted registry.PodCredentials
		want          string
	}{
		{now, admitted, "secret:a@2"},
		{none, admitted, "secret:a@1"},
		{none, none, "unread:a"},
		{nil, admitted, "secret:a@1"},
		{now, nil, "secret:a@2"},
	} {
		got := rejudging(c.now, c.admitted)
		if s := got.Scope(repo); s != c.want {
			t.Errorf("now %v, admitted %v: scope %s, want %s", c.now, c.admitted, s, c.want)
		}
		if _, _, ok := got.Credential(repo); ok != (c.want != "unread:a") {
			t.Errorf("now %v, admitted %v: credential %v", c.now, c.admitted, ok)
		}
	}
	if got := rejudging(none, admitted).None(repo); got != "no pod pull secret (a)" {
		t.Errorf("none: %q", got)
	}
	if rejudging(nil, nil) != nil {
		t.Error("credentials from nothing")
	}
}
