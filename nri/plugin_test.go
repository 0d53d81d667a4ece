package nri

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/verify"
)

// fakeStore stands for containerd's image store: names to digests, the
// layer chain of each digest, each container's and volume's snapshot.
type fakeStore struct {
	names    map[string][]name.Digest // ref -> what it resolves to
	chains   map[string]digest.Digest // image digest -> its layer chain
	rootfs   map[string]digest.Digest // container ID -> parent chain
	volumes  map[digest.Digest][]name.Digest
	mounted  map[string]digest.Digest // snapshot key -> parent chain
	sandbox  map[string]string        // sandbox ID -> image name
	resolves int
	// known and knownChain: what the real store would answer from memory.
	known      map[string][]name.Digest
	knownChain map[string]digest.Digest
	// configs: image digest -> its config, when not configOf's default;
	// created: containerd's record of a container, when not its rootfs
	// chain with the config of the image that chain is.
	configs map[string]digest.Digest
	created map[string]imagestore.Created
	// platforms: index digest -> the manifest under it whose layers run.
	platforms map[string]digest.Digest
}

func (f *fakeStore) configOf(img string) digest.Digest {
	if c, ok := f.configs[img]; ok {
		return c
	}
	return digest.FromString("config of " + img)
}

func (f *fakeStore) CreatedFrom(_ context.Context, id string) (imagestore.Created, error) {
	if c, ok := f.created[id]; ok {
		return c, nil
	}
	chain, ok := f.rootfs[id]
	if !ok {
		return imagestore.Created{}, fmt.Errorf("container %s: not found", id)
	}
	for img, c := range f.chains {
		if c == chain {
			return imagestore.Created{Chain: chain, Config: f.configOf(img)}, nil
		}
	}
	return imagestore.Created{}, fmt.Errorf("container %s: no image has its chain", id)
}

func (f *fakeStore) Resolve(_ context.Context, ref string) ([]name.Digest, error) {
	f.resolves++
	if d, ok := f.names[ref]; ok {
		return d, nil
	}
	if out := f.byConfig(ref); len(out) > 0 {
		return out, nil
	}
	return nil, fmt.Errorf("image %s is not in containerd's image store", ref)
}

func (f *fakeStore) RootFS(_ context.Context, id string) (digest.Digest, error) {
	if c, ok := f.rootfs[id]; ok {
		return c, nil
	}
	return "", fmt.Errorf("container %s: no snapshot", id)
}

// Known remembers nothing unless the test says so: memory is the real
// store's, tested against containerd.
func (f *fakeStore) Known(id, ref string) ([]name.Digest, digest.Digest) {
	return f.known[ref], f.knownChain[id]
}

func (f *fakeStore) BuiltFrom(_ context.Context, chain, config digest.Digest, img name.Digest) error {
	if f.chains[img.DigestStr()] == chain {
		if config == "" || f.configOf(img.DigestStr()) == config {
			return nil
		}
		return fmt.Errorf("the container was created with image config %s, not %s's: %w", config, img, imagestore.ErrNotBuiltFrom)
	}
	return fmt.Errorf("not built from %s: %w", img, imagestore.ErrNotBuiltFrom)
}

// PlatformManifest: the one named in platforms for an index, else the
// image itself, bound as BuiltFrom binds it.
func (f *fakeStore) PlatformManifest(ctx context.Context, chain, config digest.Digest, img name.Digest) (digest.Digest, error) {
	if f.BuiltFrom(ctx, chain, config, img) != nil {
		return "", nil
	}
	if d, ok := f.platforms[img.DigestStr()]; ok {
		return d, nil
	}
	return digest.Digest(img.DigestStr()), nil
}

func (f *fakeStore) VolumeImages(_ context.Context, v imagestore.ImageVolume) ([]name.Digest, error) {
	if d, ok := f.volumes[v.Target]; ok {
		return d, nil
	}
	return nil, errors.New("unknown volume image")
}

func (f *fakeStore) VolumeLayers(_ context.Context, v imagestore.ImageVolume) (digest.Digest, error) {
	return f.mounted[v.SnapshotKey], nil
}

func (f *fakeStore) SandboxImage(_ context.Context, id string) (string, digest.Digest, error) {
	ref, ok := f.sandbox[id]
	if !ok {
		return "", "", errors.New("no such sandbox")
	}
	return ref, f.rootfs[id], nil
}

// fakeEngine allows the repositories in trusted; it blocks on the ones in
// slow until the caller's deadline, as the engine answers "pending".
type fakeEngine struct {
	mu      sync.Mutex
	trusted map[string]bool
	slow    map[string]bool
	asked   []string
	// platforms: each request's Platform, in order.
	platforms []string
}

func (f *fakeEngine) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	f.mu.Lock()
	f.asked = append(f.asked, req.Image.String())
	f.platforms = append(f.platforms, req.Platform)
	trusted, slow := f.trusted[req.Image.Context().String()], f.slow[req.Image.Context().String()]
	f.mu.Unlock()
	v := &verify.Verdict{Image: verify.RepoName(req.Image.Context()), Digest: req.Image.DigestStr(), Policy: "p", Mode: verify.Enforce}
	switch {
	case slow:
		<-ctx.Done()
		v.Cause, v.Pending, v.Reason = verify.CausePending, true, "still in progress"
	case trusted:
		v.Allowed, v.Verified, v.Cause, v.Reason = true, true, verify.CauseVerified, "verified by k1"
		v.Cosign = &verify.CosignResult{Satisfied: true, KeysVerified: []string{"k1"}}
	default:
		v.Cause, v.Reason = verify.CauseNoSignatures, "no cosign signatures found"
	}
	return v
}

func (f *fakeEngine) setTrusted(repo string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trusted[repo] = ok
}

type recorded struct {
	mu sync.Mutex
	ds []Decision
}

func (r *recorded) Record(d Decision) { r.mu.Lock(); r.ds = append(r.ds, d); r.mu.Unlock() }

func dig(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hexOf(c byte) string { return strings.Repeat(string(c), 64) }

type fixture struct {
	store *fakeStore
	eng   *fakeEngine
	rec   *recorded
	p     *Plugin
	pod   *api.PodSandbox
}

// newFixture: reg.io/good (trusted) and reg.io/bad (not), each with its own
// layer chain; containers "c-good" and "c-bad" built from them.
func newFixture(t *testing.T) *fixture {
	good, bad := dig(t, "reg.io/good@sha256:"+hexOf('1')), dig(t, "reg.io/bad@sha256:"+hexOf('2'))
	chainGood, chainBad := digest.Digest("sha256:"+hexOf('a')), digest.Digest("sha256:"+hexOf('b'))
	f := &fixture{
		store: &fakeStore{
			names:   map[string][]name.Digest{"reg.io/good:v1": {good}, "reg.io/bad:v1": {bad}},
			chains:  map[string]digest.Digest{good.DigestStr(): chainGood, bad.DigestStr(): chainBad},
			rootfs:  map[string]digest.Digest{"c-good": chainGood, "c-bad": chainBad, "sb-good": chainGood},
			volumes: map[digest.Digest][]name.Digest{digest.Digest(good.DigestStr()): {good}, digest.Digest(bad.DigestStr()): {bad}},
			mounted: map[string]digest.Digest{},
			sandbox: map[string]string{"sb-good": "reg.io/good:v1"},
		},
		eng: &fakeEngine{trusted: map[string]bool{"reg.io/good": true}, slow: map[string]bool{}},
		rec: &recorded{},
		pod: &api.PodSandbox{Id: "sb-good", Name: "pod", Namespace: "default"},
	}
	f.p = &Plugin{Runtime: imagestore.Runtime{Records: f.store}, Decider: f.eng, Recorder: f.rec, Deadline: 200 * time.Millisecond, Annotate: true}
	return f
}

func ctr(id, image string, mounts ...*api.Mount) *api.Container {
	return &api.Container{Id: id, Name: id, Annotations: map[string]string{containers.ImageNameAnnotation: image}, Mounts: mounts}
}

// volume mounts the image with digest hex d at dest, as containerd's CRI does.
func (f *fixture) volume(dest string, d digest.Digest, chain digest.Digest) *api.Mount {
	key := "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/sb-good/" + d.Encoded()
	f.store.mounted[key] = chain
	return &api.Mount{Destination: dest, Source: key, Type: "bind", Options: []string{"rbind", "ro"}}
}

func TestCreateContainer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adj, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1"))
	if err != nil {
		t.Fatalf("trusted image refused: %v", err)
	}
	// The admitted container says which policy admitted which digest, and
	// what verified it; nothing else is adjusted.
	got := map[string]string{}
	for k, v := range adj.GetAnnotations() {
		got[k] = v
	}
	want := map[string]string{AnnotationPolicy: "p", AnnotationDigest: "sha256:" + hexOf('1'), AnnotationDecision: "verified", AnnotationVerifiedBy: "cosign: k1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("annotations %v, want %v", got, want)
	}
	adj.Annotations = nil
	if !proto.Equal(adj, &api.ContainerAdjustment{}) {
		t.Errorf("adjusted more than annotations: %v", adj)
	}
	for _, c := range []struct {
		name  string
		c     *api.Container
		cause verify.Cause
		want  string
	}{
		{"untrusted", ctr("c-bad", "reg.io/bad:v1"), verify.CauseNoSignatures, "signgate denied image reg.io/bad:v1 (reg.io/bad@sha256:2222"},
		{"no annotation", &api.Container{Id: "c-good"}, verify.CauseImageUnknown, "carries no io.kubernetes.cri.image-name annotation"},
		{"unknown image", ctr("c-good", "reg.io/nope:v1"), verify.CauseImageUnknown, "cannot determine the digest that will run"},
		{"names a trusted image, runs another", ctr("c-bad", "reg.io/good:v1"), verify.CauseRootFSMismatch, "the image it names is not the image it runs"},
	} {
		_, _, err := f.p.CreateContainer(ctx, f.pod, c.c)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a refusal saying %q", c.name, err, c.want)
		}
		if last := f.rec.ds[len(f.rec.ds)-1]; last.Verdict.Cause != c.cause {
			t.Errorf("%s: recorded cause %q, want %q", c.name, last.Verdict.Cause, c.cause)
		}
	}
}

// The decision never outlasts the deadline: a verification still running
// is a denial saying so, not a late answer that containerd would drop.
func TestDeadline(t *testing.T) {
	f := newFixture(t)
	f.eng.slow["reg.io/good"] = true
	start := time.Now()
	_, _, err := f.p.CreateContainer(context.Background(), f.pod, ctr("c-good", "reg.io/good:v1"))
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "still in progress") || took > f.p.Deadline+100*time.Millisecond {
		t.Fatalf("after %s: %v", took, err)
	}
}

// The validator reuses CreateContainer's allow once, for the same
// container and image; otherwise it decides again.
func TestValidatorReusesTheAdmissionOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	asked := len(f.eng.asked)
	req := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c}
	if err := f.p.ValidateContainerAdjustment(ctx, req); err != nil || len(f.eng.asked) != asked {
		t.Fatalf("the admitted container was decided again (%v, %d asks)", err, len(f.eng.asked)-asked)
	}
	if err := f.p.ValidateContainerAdjustment(ctx, req); err != nil || len(f.eng.asked) != asked+1 {
		t.Fatalf("the admission was reused twice (%v, %d asks)", err, len(f.eng.asked)-asked)
	}
	// Admitted for one image, validated naming another: decided afresh.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	other := ctr("c-good", "reg.io/bad:v1")
	if err := f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: other}); err == nil {
		t.Fatal("the validator reused an admission made for another image")
	}
	// An admission older than its TTL is not reused.
	f.p.admitted.add("c-old", "reg.io/good:v1", 0)
	f.p.admitted.m["c-old"] = admittedEntry{what: "reg.io/good:v1", at: time.Now().Add(-admittedTTL - time.Second)}
	if f.p.admitted.take("c-old", "reg.io/good:v1", 0) {
		t.Fatal("an expired admission was reused")
	}
}

// A container the validator admits without CreateContainer's admission
// (its answer never reached containerd) is recorded there, by ID: the
// decision log is the record of what verified each container.
func TestValidatorRecordsWhatItAdmits(t *testing.T) {
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if err := f.p.ValidateContainerAdjustment(context.Background(), &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c}); err != nil {
		t.Fatal(err)
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if len(f.rec.ds) != 1 || !f.rec.ds[0].Verdict.Allowed || f.rec.ds[0].ContainerID != "c-good" {
		t.Fatalf("recorded %+v, want the allow of c-good", f.rec.ds)
	}
}

// An admission serves only the NRI request it was made in (issue 26, item
// 2): not after the connection it was made on is gone (containerd closes
// it when a request to signgate times out), not past twice containerd's
// request timeout, not for the same container ID in another pod or with
// other mounts. Each time the image's trust is withdrawn in between, so
// a reused admission shows as an allow.
func TestAdmissionDiesWithItsRequest(t *testing.T) {
	ctx := context.Background()
	c := ctr("c-good", "reg.io/good:v1")
	validate := func(f *fixture, pod *api.PodSandbox, c *api.Container) error {
		f.eng.setTrusted("reg.io/good", false)
		defer f.eng.setTrusted("reg.io/good", true)
		return f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: pod, Container: c})
	}
	admit := func(t *testing.T, f *fixture) {
		t.Helper()
		if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("connection lost", func(t *testing.T) {
		f := newFixture(t)
		admit(t, f)
		f.p.connectionChanged() // containerd dropped signgate; it reconnected
		if err := validate(f, f.pod, c); err == nil {
			t.Fatal("an admission made on a closed connection passed the validator on the next one")
		}
	})
	t.Run("request timed out", func(t *testing.T) {
		f := newFixture(t)
		now := time.Unix(1e9, 0)
		f.p.admitted.now = func() time.Time { return now }
		f.p.setRequestTimeout(2 * time.Second)
		admit(t, f)
		now = now.Add(4*time.Second + time.Millisecond)
		if err := validate(f, f.pod, c); err == nil {
			t.Fatal("an admission outlived twice containerd's request timeout")
		}
		admit(t, f)
		asked := len(f.eng.asked)
		now = now.Add(3 * time.Second)
		if err := f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c}); err != nil || len(f.eng.asked) != asked {
			t.Fatalf("an admission within its request was not reused: %v, %d more decisions", err, len(f.eng.asked)-asked)
		}
	})
	t.Run("another pod", func(t *testing.T) {
		f := newFixture(t)
		admit(t, f)
		other := &api.PodSandbox{Id: "sb-other", Name: "other", Namespace: "default"}
		if err := validate(f, other, c); err == nil {
			t.Fatal("an admission made in one pod passed the validator in another")
		}
	})
	t.Run("other mounts", func(t *testing.T) {
		f := newFixture(t)
		admit(t, f)
		bad := digest.Digest("sha256:" + hexOf('2'))
		withVolume := ctr("c-good", "reg.io/good:v1", f.volume("/data", bad, f.store.chains[bad.String()]))
		if err := validate(f, f.pod, withVolume); err == nil {
			t.Fatal("an admission made without an image volume passed the validator with one")
		}
	})
}

func TestImageVolumes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good, bad := digest.Digest("sha256:"+hexOf('1')), digest.Digest("sha256:"+hexOf('2'))
	chainGood, chainBad := f.store.chains[good.String()], f.store.chains[bad.String()]
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", f.volume("/vol", good, chainGood))); err != nil {
		t.Fatalf("a trusted image volume was refused: %v", err)
	}
	_, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", f.volume("/data", bad, chainBad)))
	if err == nil || !strings.Contains(err.Error(), "signgate denied image reg.io/bad") || !strings.Contains(err.Error(), "mounted as the image volume at /data") {
		t.Fatalf("an untrusted image volume: %v", err)
	}
	// The volume's snapshot holds other layers than its image's.
	_, _, err = f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", f.volume("/x", good, chainBad)))
	if err == nil || !strings.Contains(err.Error(), "the image it names is not the image it runs") {
		t.Fatalf("a volume whose layers are not its image's: %v", err)
	}
}

func TestStartContainerRechecksFromTheCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	resolves := f.store.resolves
	if err := f.p.StartContainer(ctx, f.pod, c); err != nil {
		t.Fatalf("start: %v", err)
	}
	if f.store.resolves != resolves {
		t.Fatal("the start resolved the image again instead of asking the engine")
	}
	f.eng.setTrusted("reg.io/good", false) // revoked
	if err := f.p.StartContainer(ctx, f.pod, c); err == nil || !strings.HasPrefix(err.Error(), "at start: signgate denied image reg.io/good:v1") {
		t.Fatalf("start after the revocation: %v", err)
	}
	// Removed, then seen at start only (created before signgate ran): judged in full.
	if err := f.p.RemoveContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	if err := f.p.StartContainer(ctx, f.pod, c); err == nil || f.store.resolves == resolves {
		t.Fatalf("an unknown container at start: %v (resolved: %v)", err, f.store.resolves != resolves)
	}
}

func TestRunPodSandbox(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var refused []string
	f.p.SandboxRefused = func(id string) { refused = append(refused, id) }
	if err := f.p.RunPodSandbox(ctx, f.pod); err != nil || len(refused) != 0 {
		t.Fatalf("a trusted sandbox image: %v (refused %v)", err, refused)
	}
	f.eng.setTrusted("reg.io/good", false)
	if err := f.p.RunPodSandbox(ctx, f.pod); err == nil || !strings.HasPrefix(err.Error(), "pod sandbox: signgate denied image reg.io/good:v1") {
		t.Fatalf("an untrusted sandbox image: %v", err)
	}
	// Its task, started already, is to be stopped (daemon/sandbox_refused.go).
	if fmt.Sprint(refused) != "[sb-good]" {
		t.Fatalf("a refused sandbox was reported as %v", refused)
	}
	if err := f.p.RunPodSandbox(ctx, &api.PodSandbox{Id: "unknown"}); err == nil || !strings.Contains(err.Error(), "cannot determine the pod sandbox image") {
		t.Fatalf("an unknown sandbox: %v", err)
	}
}

// An image known by several names is allowed when one of them is, tried in
// sorted order, whatever order containerd lists them in.
func TestSeveralNamesOfOneContent(t *testing.T) {
	f := newFixture(t)
	id := "sha256:" + hexOf('9')
	good, alias := dig(t, "reg.io/good@sha256:"+hexOf('1')), dig(t, "reg.io/alias@sha256:"+hexOf('1'))
	f.store.names[id] = []name.Digest{alias, good}
	if _, _, err := f.p.CreateContainer(context.Background(), f.pod, ctr("c-good", id)); err != nil {
		t.Fatalf("one of the names is trusted: %v", err)
	}
	f.eng.setTrusted("reg.io/good", false)
	_, _, err := f.p.CreateContainer(context.Background(), f.pod, ctr("c-good", id))
	if err == nil || !strings.Contains(err.Error(), "2 names tried") {
		t.Fatalf("no name trusted: %v", err)
	}
}

// The answer's deadline is capped by what containerd's NRI request timeout
// allows, learnt at connection, whatever decision_deadline says.
func TestDeadlineCeilingFromTheRequestTimeout(t *testing.T) {
	p := &Plugin{Deadline: 3 * time.Second}
	if p.deadline() != 3*time.Second {
		t.Fatalf("before connecting: %s", p.deadline())
	}
	p.setRequestTimeout(2 * time.Second)
	if p.deadline() != 1500*time.Millisecond {
		t.Fatalf("with a 2s request timeout: %s", p.deadline())
	}
	p = &Plugin{Deadline: time.Second}
	p.setRequestTimeout(10 * time.Second)
	if p.deadline() != time.Second {
		t.Fatalf("a shorter decision_deadline is kept: %s", p.deadline())
	}
}

// A request containerd already gave up on (signgate was stopped, then
// resumed) is answered with an error but not recorded as a denial.
func TestAbandonedRequestIsNotRecordedAsADenial(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-bad", "reg.io/bad:v1"))
	if err == nil || !strings.Contains(err.Error(), "after containerd stopped waiting") {
		t.Fatalf("abandoned request: %v", err)
	}
	if err := f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: ctr("c-bad", "reg.io/bad:v1")}); err == nil {
		t.Fatal("an abandoned validation succeeded")
	}
	if len(f.rec.ds) != 0 {
		t.Fatalf("abandoned requests were recorded as decisions: %+v", f.rec.ds[0].Verdict)
	}
}

// containerd 2.4+ reports the image itself (NRI's Container.Image): it must
// agree with the image store, or the container is refused naming both.
func TestRuntimeImageMustAgreeWithTheStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good := "sha256:" + hexOf('1')
	f.store.configs = map[string]digest.Digest{good: digest.Digest("sha256:" + hexOf('c'))}
	withImage := func(c *api.Container, img *api.Image) *api.Container { c.Image = img; return c }
	if _, _, err := f.p.CreateContainer(ctx, f.pod, withImage(ctr("c-good", "reg.io/good:v1"), &api.Image{Name: "reg.io/good:v1", Digest: good, ConfigDigest: "sha256:" + hexOf('c')})); err != nil {
		t.Fatalf("runtime and store agree, yet refused: %v", err)
	}
	// An image ID known under two repositories whose manifests differ: the
	// runtime's digest picks the content; the other name is not tried.
	other := dig(t, "reg.io/bad@sha256:"+hexOf('2'))
	f.store.names["sha256:"+hexOf('c')] = []name.Digest{other, dig(t, "reg.io/good@"+good)}
	f.eng.asked = nil
	if _, _, err := f.p.CreateContainer(ctx, f.pod, withImage(ctr("c-good", "sha256:"+hexOf('c')), &api.Image{Name: "reg.io/good:v1", Digest: good, ConfigDigest: "sha256:" + hexOf('c')})); err != nil {
		t.Fatalf("image ID: %v", err)
	}
	if len(f.eng.asked) != 1 || !strings.HasPrefix(f.eng.asked[0], "reg.io/good@") {
		t.Fatalf("asked about %v; want only the runtime's content", f.eng.asked)
	}
	// containerd may report another name of the same content (a mirror
	// pulled too): the digest agrees, and the name the container gave is
	// decided.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, withImage(ctr("c-good", "reg.io/good:v1"), &api.Image{Name: "mirror.io/good:v1", Digest: good})); err != nil {
		t.Fatalf("another name of the same content: %v", err)
	}
	// One image pushed as two manifests (same layers): the runtime used
	// the other manifest; what runs is still what the name resolves to.
	f.store.chains["sha256:"+hexOf('7')] = f.store.chains[good]
	if _, _, err := f.p.CreateContainer(ctx, f.pod, withImage(ctr("c-good", "reg.io/good:v1"), &api.Image{Name: "mirror.io/good:v1", Digest: "sha256:" + hexOf('7')})); err != nil {
		t.Fatalf("the same layers under another manifest: %v", err)
	}
	for _, c := range []struct {
		name string
		c    *api.Container
		want []string
	}{
		{"another digest", withImage(ctr("c-good", "reg.io/good:v1"), &api.Image{Name: "reg.io/good:v1", Digest: "sha256:" + hexOf('9')}),
			[]string{"reg.io/good:v1 (sha256:9999", "resolves reg.io/good:v1 to reg.io/good@sha256:1111"}},
		// The runtime ran reg.io/bad's manifest (its layers are mounted),
		// the name says reg.io/good: refused, naming both.
		{"another image", withImage(ctr("c-bad", "reg.io/good:v1"), &api.Image{Name: "reg.io/bad:v1", Digest: "sha256:" + hexOf('2')}),
			[]string{"reg.io/bad:v1 (sha256:2222", "resolves reg.io/good:v1 to reg.io/good@sha256:1111"}},
		{"another config", withImage(ctr("c-good", "sha256:"+hexOf('c')), &api.Image{Name: "reg.io/good:v1", Digest: good, ConfigDigest: "sha256:" + hexOf('d')}),
			[]string{"config as sha256:dddd", "image ID sha256:cccc"}},
	} {
		_, _, err := f.p.CreateContainer(ctx, f.pod, c.c)
		if err == nil {
			t.Fatalf("%s: created", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", c.name, err, w)
			}
		}
		if last := f.rec.ds[len(f.rec.ds)-1]; last.Verdict.Cause != verify.CauseImageMismatch {
			t.Errorf("%s: cause %q", c.name, last.Verdict.Cause)
		}
	}
	// A tag that moved between containerd's two lookups (issue 26, item
	// 0): the digest is the signed image's and so are the layers (the
	// unsigned image reuses them), but the config the container was given
	// is another image's. Its entrypoint, env and user are what run.
	_, _, err := f.p.CreateContainer(ctx, f.pod, withImage(ctr("c-good", "reg.io/good:v1"), &api.Image{Name: "reg.io/good:v1", Digest: good, ConfigDigest: "sha256:" + hexOf('e')}))
	if err == nil || !strings.Contains(err.Error(), "created with image config sha256:eeee") {
		t.Fatalf("another image's config under the signed digest: %v", err)
	}
	if last := f.rec.ds[len(f.rec.ds)-1]; last.Verdict.Cause != verify.CauseRootFSMismatch {
		t.Errorf("another config: cause %q", last.Verdict.Cause)
	}
}

// Before containerd 2.4 nothing at CreateContainer names the config; the
// record containerd writes does, and StartContainer reads it (issue 26,
// item 0): a container created with another image's config, on the signed
// image's layers, never starts, whether or not its creation was seen.
func TestStartBindsTheConfigCreatedWith(t *testing.T) {
	ctx := context.Background()
	for _, seen := range []bool{true, false} {
		f := newFixture(t)
		if seen {
			if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.p.StartContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
			t.Fatalf("seen=%v: the signed image's own config refused: %v", seen, err)
		}
		f.store.created = map[string]imagestore.Created{"c-good": {Chain: f.store.rootfs["c-good"], Config: digest.FromString("an unsigned config")}}
		err := f.p.StartContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1"))
		if err == nil || !strings.Contains(err.Error(), "at start: signgate denied image reg.io/good:v1") || !strings.Contains(err.Error(), "created with image config "+digest.FromString("an unsigned config").String()) {
			t.Fatalf("seen=%v: started with another image's config: %v", seen, err)
		}
		if last := f.rec.ds[len(f.rec.ds)-1]; last.Verdict.Cause != verify.CauseRootFSMismatch {
			t.Errorf("seen=%v: cause %q", seen, last.Verdict.Cause)
		}
		// A record that cannot be read is a refusal too.
		delete(f.store.created, "c-good")
		delete(f.store.rootfs, "c-good")
		f.p.created.remove("c-good")
		f.store.knownChain = nil
		if err := f.p.StartContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err == nil {
			t.Fatalf("seen=%v: started without a record", seen)
		}
	}
}

// A runtime whose NRI lacks the validator (containerd 1.7-2.1, NRI v0.8)
// closes the connection of a plugin that subscribes to it.
func TestEventsFitTheRuntime(t *testing.T) {
	validate := api.MustParseEventMask("ValidateContainerAdjustment")
	for _, c := range []struct {
		version, runtime, runtimeVersion string
		want                             bool
	}{
		{"v0.3.0", "containerd", "v1.7.0", false}, {"v0.8.0", "containerd", "v2.1.5", false}, {"0.8.0", "", "", false}, {"v0.9.2", "", "", false},
		{"v0.10.0", "", "", true}, {"v0.11.0", "", "", true}, {"v0.12.3", "containerd", "2.4.2", true},
		// Unknown to the stub: containerd's version decides.
		{api.UnknownVersion, "containerd", "2.1.9+unknown", false}, {"", "containerd", "1.7.35", false}, {"", "containerd", "v2.0.14", false},
		{api.UnknownVersion, "containerd", "2.2.9+unknown", true}, {"", "containerd", "v2.5.0-beta.1", true},
		// The stub infers a 2.2 pre-release's NRI from the release before
		// it (v2.1.6: v0.8.0), but v2.2.0-beta.0 and rc.0 ship NRI v0.10.0
		// and its validator: without signgate subscribed, a signgate that
		// times out is still counted by required_plugins (issue 26, item 2).
		{"v0.8.0", "containerd", "v2.2.0-rc.0", true}, {"v0.8.0", "containerd", "v2.2.0-beta.0-12-gabcdef0", true},
		// Known by neither: assumed new.
		{api.UnknownVersion, "cri-o", "1.99.0", true}, {"", "", "", true}, {api.DevelVersion, "containerd", "devel", true},
	} {
		events, validates := eventsFor(c.version, c.runtime, c.runtimeVersion)
		if validates != c.want || (events&validate != 0) != c.want {
			t.Errorf("NRI %q: validator %v (mask %v), want %v", c.version, validates, events, c.want)
		}
		if !events.IsSet(api.Event_CREATE_CONTAINER) || !events.IsSet(api.Event_RUN_POD_SANDBOX) {
			t.Errorf("NRI %q: CreateContainer or RunPodSandbox missing", c.version)
		}
		if extra := events &^ api.EventMask((1<<(11))-1); !c.want && extra != 0 {
			t.Errorf("NRI %q: events beyond NRI v0.8's: 0x%x", c.version, extra)
		}
	}
}

// What the store remembers from containerd's events spares the lookups,
// and only where containerd would have answered the same.
func TestDecidedFromMemory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good, bad := f.store.names["reg.io/good:v1"], f.store.names["reg.io/bad:v1"]
	f.store.known = map[string][]name.Digest{"reg.io/good:v1": good}
	f.store.knownChain = map[string]digest.Digest{"c-good": f.store.rootfs["c-good"], "c-bad": f.store.rootfs["c-bad"]}

	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1")); err != nil {
		t.Fatalf("trusted image refused: %v", err)
	}
	if d := f.rec.ds[len(f.rec.ds)-1]; !d.FromMemory || f.store.resolves != 0 {
		t.Fatalf("from_memory=%v after %d lookups; want a decision from memory", d.FromMemory, f.store.resolves)
	}
	// The name remembered is still bound to the layers that run: another
	// image's snapshot is refused, as containerd's own answer would be.
	f.store.knownChain["c-other"] = f.store.rootfs["c-bad"]
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-other", "reg.io/good:v1")); err == nil || !strings.Contains(err.Error(), "not built from") {
		t.Fatalf("remembered name on another image's layers: %v", err)
	}
	// A name not remembered is asked of the store.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-bad", "reg.io/bad:v1")); err == nil {
		t.Fatal("untrusted image admitted")
	}
	if d := f.rec.ds[len(f.rec.ds)-1]; d.FromMemory || f.store.resolves != 1 {
		t.Fatalf("from_memory=%v after %d lookups; want the store asked once", d.FromMemory, f.store.resolves)
	}
	// The runtime (containerd 2.4) reports another digest than memory
	// holds: the store's answer decides, and it agrees with the runtime.
	f.store.known["reg.io/bad:v1"] = good
	f.store.knownChain["c-bad2"] = f.store.rootfs["c-bad"]
	c := ctr("c-bad2", "reg.io/bad:v1")
	c.Image = &api.Image{Name: "reg.io/bad:v1", Digest: bad[0].DigestStr()}
	_, _, err := f.p.CreateContainer(ctx, f.pod, c)
	if d := f.rec.ds[len(f.rec.ds)-1]; err == nil || d.FromMemory || f.store.resolves != 2 || d.Verdict.Cause != verify.CauseNoSignatures {
		t.Fatalf("memory disagreeing with the runtime: err %v, from_memory=%v, %d lookups, cause %s; want the store asked and the image judged", err, d.FromMemory, f.store.resolves, d.Verdict.Cause)
	}
}

// With annotate = false, an allowed container is not adjusted at all.
func TestAnnotationsCanBeTurnedOff(t *testing.T) {
	f := newFixture(t)
	f.p.Annotate = false
	adj, upd, err := f.p.CreateContainer(context.Background(), f.pod, ctr("c-good", "reg.io/good:v1"))
	if err != nil || adj != nil || upd != nil {
		t.Fatalf("CreateContainer = %v, %v, %v; want no adjustment", adj, upd, err)
	}
	if d := f.rec.ds[len(f.rec.ds)-1]; !d.Verdict.Allowed || len(d.Verdict.VerifiedBy()) == 0 {
		t.Fatalf("the decision log lost what the annotations said: %+v", d.Verdict)
	}
}
