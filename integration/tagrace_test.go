package integration

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 26, item 0, as it was found: two CRI clients create and start
// containers from one tag while it is re-pointed (and pulled through CRI)
// among a signed image S, an unsigned image U1 (its own layers) and an
// unsigned U2 (S's layers, another config). containerd resolves a
// creation's config and its snapshot in separate lookups, so a creation
// can take U2's config, or U1's, on S's layers. Counted by containerd's
// own record of each container, not signgate's log: no container created
// from an unsigned image's config ever runs.
func TestMovingTagRunsOnlySignedConfigs(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	ref := e.Registry + "/tagrace/app:live"
	s := e.image("tagrace/app", "k1")
	u1, err := harness.PushBusybox(e.Registry+"/tagrace/app:u1", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := harness.RebuildConfig(s, e.Registry+"/tagrace/app:u2", func(c *v1.Config) { c.Env = append(c.Env, "RACE_EVIL=1") })
	if err != nil {
		t.Fatal(err)
	}
	// CRI reports the image a container's record names (its image ID) as
	// that image's repo digest: the manifest digest tells which it is.
	ids := map[string]string{}
	for label, d := range map[string]name.Digest{"S": s, "U1": u1, "U2": u2} {
		ids[d.DigestStr()] = label
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	point := func(to name.Digest) error {
		desc, err := remote.Get(to)
		if err != nil {
			return err
		}
		if err := remote.Put(tag, desc); err != nil {
			return err
		}
		return e.Pull(ref)
	}
	if err := point(s); err != nil {
		t.Fatal(err)
	}

	// The run is a number of tag moves, one every 0.3 s (as found: about
	// 20 s), while the clients create as fast as containerd lets them.
	const moves = 64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the registry side
		defer wg.Done()
		defer close(stop)
		order := []name.Digest{u2, s, u1, s}
		for i := 0; i < moves; i++ {
			time.Sleep(300 * time.Millisecond) // pacing the moves, not waiting for an outcome
			if err := point(order[i%len(order)]); err != nil {
				t.Errorf("moving the tag: %v", err)
			}
		}
	}()
	var mu sync.Mutex
	var created []string
	for c := 0; c < 2; c++ { // two CRI clients, as two kubelets' pods would
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, err := e.Create(pod, cfg, ref)
				if err != nil {
					continue // refused: an unsigned image, as it should be
				}
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
				_, _ = e.Crictl("start", id)
			}
		}()
	}
	wg.Wait()

	// containerd's word on each container: the image config it was
	// created from, and whether it ever ran.
	byConfig := map[string]int{}
	for _, id := range created {
		out := e.crictlOut("inspect", "-o", "json", id)
		var st struct {
			Status struct {
				State     string `json:"state"`
				ImageRef  string `json:"imageRef"`
				StartedAt string `json:"startedAt"`
			} `json:"status"`
			Info struct {
				RuntimeSpec struct {
					Process struct {
						Env []string `json:"env"`
					} `json:"process"`
				} `json:"runtimeSpec"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("inspect %s: %v", id, err)
		}
		_, dgst, _ := strings.Cut(st.Status.ImageRef, "@")
		label, ok := ids[dgst]
		if !ok {
			t.Errorf("container %s was created from an image %s the test never pushed", id, st.Status.ImageRef)
			continue
		}
		if evil := slices.Contains(st.Info.RuntimeSpec.Process.Env, "RACE_EVIL=1"); evil != (label == "U2") {
			t.Errorf("container %s: recorded as %s's, but its runtime spec has RACE_EVIL=1: %v", id, label, evil)
		}
		ran := startedAt(t, st.Status.StartedAt)
		byConfig[label+map[bool]string{true: " ran", false: " never started"}[ran]]++
		if ran && label != "S" {
			t.Errorf("container %s ran %s's config (%s), an unsigned image", id, label, st.Status.State)
		}
		_, _ = e.Crictl("rm", "-f", id)
	}
	t.Logf("containerd %s, %d creations allowed over %d tag moves: %v", e.Containerd.Version, len(created), moves, byConfig)
	if byConfig["S ran"] == 0 {
		t.Fatalf("no container of the signed image ran: %v", byConfig)
	}
}

// startedAt reads crictl's startedAt: a refused start leaves a container
// exited with no start time (the epoch), a created one has the zero time.
func startedAt(t *testing.T, s string) bool {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("startedAt %q: %v", s, err)
	}
	return at.Unix() > 0
}
