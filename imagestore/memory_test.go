package imagestore

import (
	"context"
	"testing"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/types"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// event delivers one containerd event to the store, as Follow would.
func event(t *testing.T, s *Store, topic string, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s.apply(topic, b, nil)
}

func prepare(t *testing.T, s *Store, key string, parent digest.Digest) {
	event(t, s, "/snapshot/prepare", &eventtypes.SnapshotPrepare{Key: key, Parent: parent.String(), Snapshotter: "overlayfs"})
}

// appTaggedA: images a and b, app:v1 pointing at a, and a subscription
// seen delivering.
func appTaggedA(t *testing.T) (f *fakeContainerd, s *Store, a, b, chain digest.Digest) {
	f, s = start(t)
	a, _, chain = f.image("a")
	b, _, _ = f.image("b")
	f.images["docker.io/library/app:v1"] = a.String()
	prepare(t, s, "warm", chain)
	return f, s, a, b, chain
}

func TestKnownNeedsTheContainersSnapshotEvent(t *testing.T) {
	f, s := start(t)
	ctx := context.Background()
	m, _, chain := f.image("app")
	f.images["docker.io/library/app:v1"] = m.String()

	// Before any event, the subscription is not known to deliver: an
	// answer is not remembered.
	if _, err := s.Resolve(ctx, "app:v1"); err != nil {
		t.Fatal(err)
	}
	prepare(t, s, "c1", chain)
	if imgs, c := s.Known("c1", "app:v1"); imgs != nil || c != chain {
		t.Fatalf("Known before the name was resolved on a live subscription = %v, %s; want the chain only", imgs, c)
	}
	if _, err := s.Resolve(ctx, "app:v1"); err != nil {
		t.Fatal(err)
	}
	// The name is remembered, but without the container's own snapshot
	// event nothing orders it after the pulls before the creation.
	if imgs, c := s.Known("c2", "app:v1"); imgs != nil || c != "" {
		t.Fatalf("Known without c2's snapshot event = %v, %s; want nothing", imgs, c)
	}
	prepare(t, s, "c2", chain)
	imgs, c := s.Known("c2", "docker.io/library/app:v1")
	if len(imgs) != 1 || imgs[0].String() != "docker.io/library/app@"+m.String() || c != chain {
		t.Fatalf("Known = %v, %s; want app@%s on %s", imgs, c, m, chain)
	}
	// Taken once: a second look asks containerd.
	if imgs, c := s.Known("c2", "app:v1"); imgs != nil || c != "" {
		t.Fatalf("second Known = %v, %s; want nothing", imgs, c)
	}
}

func TestImageEventsForgetEveryName(t *testing.T) {
	f, s, a, b, chain := appTaggedA(t)
	ctx := context.Background()
	if _, err := s.Resolve(ctx, "app:v1"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"/images/update", "/images/create", "/images/delete"} {
		// Re-pulled elsewhere: the event names another image, or none that decodes.
		f.images["docker.io/library/app:v1"] = b.String()
		event(t, s, topic, &eventtypes.ImageUpdate{Name: "docker.io/library/other:v9"})
		prepare(t, s, "c", chain)
		if imgs, c := s.Known("c", "app:v1"); imgs != nil || c != chain {
			t.Fatalf("after %s: Known = %v, %s; want the chain only", topic, imgs, c)
		}
		got, err := s.Resolve(ctx, "app:v1")
		if err != nil || got[0].DigestStr() != b.String() {
			t.Fatalf("after %s: Resolve = %v, %v; want %s", topic, got, err, b)
		}
		f.images["docker.io/library/app:v1"] = a.String()
		event(t, s, topic, &eventtypes.ImageUpdate{Name: "docker.io/library/app:v1"})
		if _, err := s.Resolve(ctx, "app:v1"); err != nil {
			t.Fatal(err)
		}
	}
}

// An answer containerd gave before a change whose event arrived while it
// was on its way is not remembered: it may predate the change.
func TestAnswerOvertakenByAnImageEventIsNotRemembered(t *testing.T) {
	f, s, a, b, chain := appTaggedA(t)
	ctx := context.Background()
	f.onGet = func() {
		// containerd read the old record; the re-pull commits and its
		// event is applied before the answer is back.
		f.onGet = nil
		f.images["docker.io/library/app:v1"] = b.String()
		event(t, s, "/images/update", &eventtypes.ImageUpdate{Name: "docker.io/library/app:v1"})
	}
	got, err := s.Resolve(ctx, "app:v1")
	if err != nil || got[0].DigestStr() != a.String() {
		t.Fatalf("Resolve = %v, %v; want the old answer %s", got, err, a)
	}
	prepare(t, s, "c", chain)
	if imgs, _ := s.Known("c", "app:v1"); imgs != nil {
		t.Fatalf("Known = %v: an answer overtaken by an image event was remembered", imgs)
	}
}

func TestNewSubscriptionForgetsAndWaitsForAnEvent(t *testing.T) {
	f, s := start(t)
	ctx := context.Background()
	a, _, chain := f.image("a")
	f.images["docker.io/library/app:v1"] = a.String()
	prepare(t, s, "warm", chain)
	prepare(t, s, "c", chain)
	if _, err := s.Resolve(ctx, "app:v1"); err != nil {
		t.Fatal(err)
	}
	s.mem.lost() // containerd restarted: events in between are lost
	if imgs, c := s.Known("c", "app:v1"); imgs != nil || c != "" {
		t.Fatalf("after the subscription ended: Known = %v, %s; want nothing", imgs, c)
	}
	s.mem.subscribed()
	if _, err := s.Resolve(ctx, "app:v1"); err != nil { // not yet seen delivering
		t.Fatal(err)
	}
	prepare(t, s, "c", chain)
	if imgs, c := s.Known("c", "app:v1"); imgs != nil || c != chain {
		t.Fatalf("resolved before the new subscription delivered: Known = %v, %s; want the chain only", imgs, c)
	}
}

func TestSnapshotsOutsideTheGateAreNotTaken(t *testing.T) {
	_, s := start(t)
	chain := digest.FromString("chain")
	event(t, s, "/snapshot/prepare", &eventtypes.SnapshotPrepare{Key: "c1", Parent: chain.String(), Snapshotter: "native"})
	if _, c := s.Known("c1", "app:v1"); c != "" {
		t.Fatalf("a snapshot of an unlisted snapshotter was taken: %s", c)
	}
	prepare(t, s, "c2", chain)
	event(t, s, "/snapshot/remove", &eventtypes.SnapshotRemove{Key: "c2", Snapshotter: "overlayfs"})
	prepare(t, s, "c3", chain)
	event(t, s, "/snapshot/commit", &eventtypes.SnapshotCommit{Key: "c3", Name: "layer", Snapshotter: "overlayfs"})
	event(t, s, "/snapshot/prepare", &eventtypes.SnapshotPrepare{Key: "c4", Parent: "", Snapshotter: "overlayfs"})
	for _, k := range []string{"c2", "c3", "c4"} {
		if _, c := s.Known(k, "app:v1"); c != "" {
			t.Fatalf("%s: removed, committed or on no image: taken as %s", k, c)
		}
	}
}

// Pre-verification waiting for a worker does not hold back the events
// behind it: a container's snapshot is known while it waits.
func TestSlowImageListenerDoesNotDelayMemory(t *testing.T) {
	f, s := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	heard := make(chan string, 2)
	go s.Follow(ctx, func(n string) { <-release; heard <- n }, nil)
	send := func(topic string, m proto.Message) {
		b, _ := proto.Marshal(m)
		f.events <- &types.Envelope{Topic: topic, Event: &anypb.Any{Value: b}}
	}
	chain := digest.FromString("chain")
	send("/images/update", &eventtypes.ImageUpdate{Name: "docker.io/library/app:v1"})
	send("/images/update", &eventtypes.ImageUpdate{Name: "docker.io/library/app:v2"})
	send("/snapshot/prepare", &eventtypes.SnapshotPrepare{Key: "c1", Parent: chain.String(), Snapshotter: "overlayfs"})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, c := s.Known("c1", "app:v1"); c == chain {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if time.Now().After(deadline) {
		t.Fatal("the snapshot event waited behind the image listener")
	}
	// And the listener, once free, hears every name.
	close(release)
	for _, want := range []string{"docker.io/library/app:v1", "docker.io/library/app:v2"} {
		select {
		case n := <-heard:
			if n != want {
				t.Fatalf("heard %q, want %q", n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the listener never heard %s", want)
		}
	}
}
