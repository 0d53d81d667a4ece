package imagestore

import (
	"context"
	"fmt"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	"google.golang.org/protobuf/proto"
)

// Follow keeps the store's memory of images and snapshots in step with
// containerd's events in its namespace (see memory), and calls onImage, if
// set, with the name of every image created or updated (a pull, a
// re-tag), until ctx ends. When containerd goes away it subscribes again,
// with backoff, forgetting what it remembered; onError hears why.
func (s *Store) Follow(ctx context.Context, onImage func(name string), onError func(err error, retryIn time.Duration)) {
	if onImage != nil {
		// onImage may wait (pre-verification's workers are few); the
		// events behind it, snapshot preparations among them, must not.
		names := make(chan string, 1024)
		hear := onImage
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case n := <-names:
					hear(n)
				}
			}
		}()
		onImage = func(n string) {
			select {
			case names <- n:
			case <-ctx.Done():
			default:
				hear(n) // a burst beyond the queue: wait, as before, rather than skip it
			}
		}
	}
	client := eventsapi.NewEventsClient(s.conn)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.follow(ctx, client, onImage)
		s.mem.lost()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		if onError != nil {
			onError(err, backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// followedTopics: image changes, and the snapshots containers are
// prepared on (commit and removal only to forget them).
var followedTopics = []string{"/images/create", "/images/update", "/images/delete", "/snapshot/prepare", "/snapshot/commit", "/snapshot/remove"}

func (s *Store) follow(ctx context.Context, client eventsapi.EventsClient, onImage func(string)) error {
	ns := fmt.Sprintf("namespace==%q", s.namespace)
	var filters []string
	for _, t := range followedTopics {
		filters = append(filters, fmt.Sprintf("%s,topic==%q", ns, t))
	}
	s.mem.subscribed()
	// One subscription for all topics: containerd delivers its events in
	// the order they were published, which memory relies on.
	stream, err := client.Subscribe(ctx, &eventsapi.SubscribeRequest{Filters: filters})
	if err != nil {
		return err
	}
	for {
		env, err := stream.Recv()
		if err != nil {
			return err
		}
		s.apply(env.GetTopic(), env.GetEvent().GetValue(), onImage)
	}
}

// apply takes one event into memory. An event that does not decode still
// counts as a change: for an image topic, every name is forgotten.
func (s *Store) apply(topic string, value []byte, onImage func(string)) {
	switch topic {
	case "/images/create", "/images/update", "/images/delete":
		s.mem.imageChanged()
		var name string
		switch topic {
		case "/images/create":
			var ev eventtypes.ImageCreate
			if proto.Unmarshal(value, &ev) == nil {
				name = ev.GetName()
			}
		case "/images/update":
			var ev eventtypes.ImageUpdate
			if proto.Unmarshal(value, &ev) == nil {
				name = ev.GetName()
			}
		}
		if name != "" && !isImageID(name) && onImage != nil {
			onImage(name)
		}
	case "/snapshot/prepare":
		var ev eventtypes.SnapshotPrepare
		if proto.Unmarshal(value, &ev) == nil {
			s.mem.snapshotPrepared(ev.GetKey(), ev.GetParent(), ev.GetSnapshotter())
		}
	case "/snapshot/commit":
		var ev eventtypes.SnapshotCommit
		if proto.Unmarshal(value, &ev) == nil {
			s.mem.snapshotGone(ev.GetKey())
		}
	case "/snapshot/remove":
		var ev eventtypes.SnapshotRemove
		if proto.Unmarshal(value, &ev) == nil {
			s.mem.snapshotGone(ev.GetKey())
		}
	}
}
