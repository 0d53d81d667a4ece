package imagestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	contentapi "github.com/containerd/containerd/api/services/content/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeContainerd serves the four containerd APIs the store reads, from
// memory, over a real gRPC unix socket.
type fakeContainerd struct {
	images     map[string]string // name -> target digest
	blobs      map[digest.Digest][]byte
	snapshots  map[string]string // key -> parent
	containers map[string]*containersapi.Container
	namespaces []string             // namespace of each request, to check it is sent
	onGet      func()               // runs inside images.Get, after it read, before it answers
	events     chan *types.Envelope // what the events service delivers
	gets       int
}

func (f *fakeContainerd) ns(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.namespaces = append(f.namespaces, strings.Join(md.Get("containerd-namespace"), ","))
}

func (f *imagesSrv) Get(ctx context.Context, r *imagesapi.GetImageRequest) (*imagesapi.GetImageResponse, error) {
	f.ns(ctx)
	f.gets++
	t, ok := f.images[r.GetName()]
	if f.onGet != nil {
		f.onGet()
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "image %q: not found", r.GetName())
	}
	return &imagesapi.GetImageResponse{Image: &imagesapi.Image{Name: r.GetName(), Target: &types.Descriptor{Digest: t}}}, nil
}

var targetFilter = regexp.MustCompile(`^target\.digest=="(.*)"$`)

func (f *imagesSrv) List(ctx context.Context, r *imagesapi.ListImagesRequest) (*imagesapi.ListImagesResponse, error) {
	f.ns(ctx)
	var want string
	for _, fl := range r.GetFilters() {
		if m := targetFilter.FindStringSubmatch(fl); m != nil {
			want = m[1]
		}
	}
	out := &imagesapi.ListImagesResponse{}
	for n, t := range f.images {
		if want == "" || t == want {
			out.Images = append(out.Images, &imagesapi.Image{Name: n, Target: &types.Descriptor{Digest: t}})
		}
	}
	return out, nil
}

func (f *contentSrv) Read(r *contentapi.ReadContentRequest, s contentapi.Content_ReadServer) error {
	b, ok := f.blobs[digest.Digest(r.GetDigest())]
	if !ok {
		return status.Errorf(codes.NotFound, "content %s: not found", r.GetDigest())
	}
	for len(b) > 0 { // in chunks, as containerd streams
		n := min(len(b), 1000)
		if err := s.Send(&contentapi.ReadContentResponse{Data: b[:n]}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (f *snapshotsSrv) Stat(_ context.Context, r *snapshotsapi.StatSnapshotRequest) (*snapshotsapi.StatSnapshotResponse, error) {
	p, ok := f.snapshots[r.GetSnapshotter()+"/"+r.GetKey()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "snapshot %s: not found", r.GetKey())
	}
	return &snapshotsapi.StatSnapshotResponse{Info: &snapshotsapi.Info{Name: r.GetKey(), Parent: p}}, nil
}

func (f *containersSrv) Get(_ context.Context, r *containersapi.GetContainerRequest) (*containersapi.GetContainerResponse, error) {
	c, ok := f.containers[r.GetID()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %s: not found", r.GetID())
	}
	return &containersapi.GetContainerResponse{Container: c}, nil
}

func (f *eventsSrv) Subscribe(_ *eventsapi.SubscribeRequest, st eventsapi.Events_SubscribeServer) error {
	for {
		select {
		case <-st.Context().Done():
			return nil
		case ev := <-f.events:
			if err := st.Send(ev); err != nil {
				return err
			}
		}
	}
}

// One type per service, over the same state.
type (
	imagesSrv struct {
		imagesapi.UnimplementedImagesServer
		*fakeContainerd
	}
	contentSrv struct {
		contentapi.UnimplementedContentServer
		*fakeContainerd
	}
	snapshotsSrv struct {
		snapshotsapi.UnimplementedSnapshotsServer
		*fakeContainerd
	}
	containersSrv struct {
		containersapi.UnimplementedContainersServer
		*fakeContainerd
	}
	eventsSrv struct {
		eventsapi.UnimplementedEventsServer
		*fakeContainerd
	}
)

func (f *fakeContainerd) put(v any) digest.Digest {
	b, _ := json.Marshal(v)
	d := digest.FromBytes(b)
	f.blobs[d] = b
	return d
}

// image stores a config with one layer and its manifest; it returns the
// manifest digest, the config digest (the image ID) and the layer chain.
func (f *fakeContainerd) image(layer string) (manifest, config, chain digest.Digest) {
	diff := digest.FromString(layer)
	config = f.put(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diff}}})
	manifest = f.put(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: config}})
	return manifest, config, identity.ChainID([]digest.Digest{diff})
}

func (f *fakeContainerd) index(m digest.Digest) digest.Digest {
	return f.put(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: m, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("a platform not pulled"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64"}},
	}})
}

func start(t *testing.T) (*fakeContainerd, *Store) {
	t.Helper()
	f := &fakeContainerd{images: map[string]string{}, blobs: map[digest.Digest][]byte{}, snapshots: map[string]string{}, containers: map[string]*containersapi.Container{}}
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	imagesapi.RegisterImagesServer(srv, &imagesSrv{fakeContainerd: f})
	contentapi.RegisterContentServer(srv, &contentSrv{fakeContainerd: f})
	snapshotsapi.RegisterSnapshotsServer(srv, &snapshotsSrv{fakeContainerd: f})
	containersapi.RegisterContainersServer(srv, &containersSrv{fakeContainerd: f})
	f.events = make(chan *types.Envelope, 16)
	eventsapi.RegisterEventsServer(srv, &eventsSrv{fakeContainerd: f})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	s, err := Dial(sock, "k8s.io", []string{"overlayfs"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return f, s
}

func TestResolveAndBind(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	m, _, chain := f.image("app")
	other, _, otherChain := f.image("other")
	f.images["reg.io/team/app:v1"] = m.String()
	f.images["reg.io/team/other:v1"] = other.String()
	f.snapshots["overlayfs/c1"] = chain.String()

	for _, ref := range []string{"reg.io/team/app:v1", "reg.io/team/app@" + m.String()} {
		if ref == "reg.io/team/app@"+m.String() {
			f.images[ref] = m.String()
		}
		got, err := s.Resolve(ctx, ref)
		if err != nil || len(got) != 1 || got[0].String() != "reg.io/team/app@"+m.String() {
			t.Fatalf("Resolve(%s) = %v, %v", ref, got, err)
		}
	}
	if _, err := s.Resolve(ctx, "reg.io/team/missing:v1"); err == nil || !strings.Contains(err.Error(), "is not in containerd's image store") {
		t.Fatalf("a missing image: %v", err)
	}
	if ns := f.namespaces[0]; ns != "k8s.io" {
		t.Fatalf("requests carry namespace %q", ns)
	}

	rootfs, err := s.RootFS(ctx, "c1")
	if err != nil || rootfs != chain {
		t.Fatalf("RootFS: %s, %v", rootfs, err)
	}
	img, _ := s.Resolve(ctx, "reg.io/team/app:v1")
	if err := s.BuiltFrom(ctx, rootfs, "", img[0]); err != nil {
		t.Fatalf("BuiltFrom its own image: %v", err)
	}
	imgOther, _ := s.Resolve(ctx, "reg.io/team/other:v1")
	if err := s.BuiltFrom(ctx, otherChain, "", img[0]); err == nil || !strings.Contains(err.Error(), ErrNotBuiltFrom.Error()) {
		t.Fatalf("BuiltFrom another image's layers: %v", err)
	}
	_ = imgOther
	if _, err := s.RootFS(ctx, "no-such-container"); err == nil || !strings.Contains(err.Error(), "no snapshot no-such-container in snapshotters [overlayfs]") {
		t.Fatalf("RootFS of an unknown container: %v", err)
	}
}

// An index binds the layers of the manifests this node pulled; a missing
// platform is skipped, not an error.
func TestIndexBinding(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	m, _, chain := f.image("multi")
	idx := f.index(m)
	f.images["reg.io/multi:v1"] = idx.String()
	img, err := s.Resolve(ctx, "reg.io/multi:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BuiltFrom(ctx, chain, "", img[0]); err != nil {
		t.Fatalf("an index's manifest: %v", err)
	}
}

// Content that does not match its digest is never trusted.
func TestCorruptContentIsRefused(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	m, _, chain := f.image("corrupt")
	f.blobs[m] = append([]byte(nil), f.blobs[m]...)
	f.blobs[m][len(f.blobs[m])-2] ^= 1
	f.images["reg.io/corrupt:v1"] = m.String()
	img, _ := s.Resolve(ctx, "reg.io/corrupt:v1")
	if err := s.BuiltFrom(ctx, chain, "", img[0]); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("corrupt manifest: %v", err)
	}
}

// An image ID resolves to every name of that config: the index's and the
// plain manifest's, whichever the ID record points at (pull order).
func TestImageIDResolvesToEveryName(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	m, config, _ := f.image("shared")
	idx := f.index(m)
	f.images["reg.io/team/a:v1"] = idx.String()
	f.images["reg.io/team/b:v1"] = m.String()
	for _, last := range []digest.Digest{idx, m} {
		f.images[config.String()] = last.String() // CRI's ID record
		got, err := s.Resolve(ctx, config.String())
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("[reg.io/team/a@%s reg.io/team/b@%s]", idx, m)
		if fmt.Sprint(got) != want {
			t.Fatalf("ID record at %s: %v, want %s", last, got, want)
		}
	}
	delete(f.images, "reg.io/team/a:v1")
	delete(f.images, "reg.io/team/b:v1")
	if _, err := s.Resolve(ctx, config.String()); err == nil || !strings.Contains(err.Error(), "knows it by ID only") {
		t.Fatalf("an ID with no name: %v", err)
	}
}

func TestImageVolumeAndSandbox(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	m, _, chain := f.image("vol")
	f.images["reg.io/vol:v1"] = m.String()
	v, ok, err := imageVolumeOf("/vol", "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/pod/"+m.Encoded(), nil)
	if !ok || err != nil {
		t.Fatalf("not an image volume: %v", err)
	}
	f.snapshots["overlayfs/"+v.SnapshotKey] = chain.String()
	imgs, err := s.VolumeImages(ctx, v)
	if err != nil || len(imgs) != 1 || imgs[0].String() != "reg.io/vol@"+m.String() {
		t.Fatalf("VolumeImages: %v %v", imgs, err)
	}
	if got, err := s.VolumeLayers(ctx, v); err != nil || got != chain {
		t.Fatalf("VolumeLayers: %s %v", got, err)
	}

	f.containers["sb1"] = &containersapi.Container{ID: "sb1", Image: "reg.io/pause:3", Snapshotter: "overlayfs", SnapshotKey: "sb1"}
	f.snapshots["overlayfs/sb1"] = chain.String()
	ref, got, err := s.SandboxImage(ctx, "sb1")
	if err != nil || ref != "reg.io/pause:3" || got != chain {
		t.Fatalf("Sandbox: %s %s %v", ref, got, err)
	}
	if _, _, err := s.SandboxImage(ctx, "nope"); err == nil {
		t.Fatal("an unknown sandbox was resolved")
	}
}
