package imagestore

import (
	"context"
	"fmt"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	"google.golang.org/protobuf/proto"
)

// WatchImages calls fn with the name of every image created or updated in
// the store's namespace (a pull, a re-tag), until ctx ends. When containerd
// goes away it subscribes again, with backoff; onError hears why.
func (s *Store) WatchImages(ctx context.Context, fn func(name string), onError func(err error, retryIn time.Duration)) {
	client := eventsapi.NewEventsClient(s.conn)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.watch(ctx, client, fn)
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

func (s *Store) watch(ctx context.Context, client eventsapi.EventsClient, fn func(string)) error {
	ns := fmt.Sprintf("namespace==%q", s.namespace)
	stream, err := client.Subscribe(ctx, &eventsapi.SubscribeRequest{Filters: []string{
		ns + `,topic=="/images/create"`,
		ns + `,topic=="/images/update"`,
	}})
	if err != nil {
		return err
	}
	for {
		env, err := stream.Recv()
		if err != nil {
			return err
		}
		var name string
		switch env.GetTopic() {
		case "/images/create":
			var ev eventtypes.ImageCreate
			if proto.Unmarshal(env.GetEvent().GetValue(), &ev) == nil {
				name = ev.GetName()
			}
		case "/images/update":
			var ev eventtypes.ImageUpdate
			if proto.Unmarshal(env.GetEvent().GetValue(), &ev) == nil {
				name = ev.GetName()
			}
		}
		if name != "" && !IsImageID(name) {
			fn(name)
		}
	}
}
