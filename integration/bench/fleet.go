package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// A fleet in the bench (issue 30): fleetNodes engines, one per node, each
// holding the same fleetImages, against one registry behind a front that
// counts requests and rate-limits them as Docker Hub or ECR do (429 with
// Retry-After past a burst). Each node verifies with fleetWorkers at a
// time, as pre-verification does.
const (
	fleetNodes   = 100
	fleetImages  = 20
	fleetWorkers = 2
	fleetBurst   = 200 // requests the front answers at once
	fleetRate    = 200 // requests per second it answers after that
)

// front counts and rate-limits requests to the registry.
type front struct {
	host     string
	requests atomic.Int64
	limited  atomic.Int64
	mu       sync.Mutex
	tokens   float64
	last     time.Time
}

func newFront(upstream string) *front {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	u, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // engines cancel requests they no longer need
	f := &front{host: l.Addr().String(), tokens: fleetBurst, last: time.Now()}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.requests.Add(1)
			if !f.admit() {
				f.limited.Add(1)
				w.Header().Set("Retry-After", "1")
				http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded"}]}`, http.StatusTooManyRequests)
				return
			}
			rp.ServeHTTP(w, r)
		}))
	}()
	return f
}

// admit is a token bucket: fleetBurst at once, fleetRate a second after.
func (f *front) admit() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.tokens = min(fleetBurst, f.tokens+now.Sub(f.last).Seconds()*fleetRate)
	f.last = now
	if f.tokens < 1 {
		return false
	}
	f.tokens--
	return true
}

type fleetPhase struct {
	what              string
	requests, limited int64
	verdicts, denials int
	late              int // decisions slower than the default decision_deadline
	images            int
	took              time.Duration
}

// fleet runs a fleet through its first start, a rollout (every node's
// signgate restarted at once) with and without the verdicts it kept, and
// a new image reaching every node.
func fleet(e *harness.Env) []fleetPhase {
	f := newFront(e.Upstream)
	hostsDir := filepath.Join(e.Dir, "fleet-certs.d")
	check(os.MkdirAll(filepath.Join(hostsDir, f.host), 0o755))
	check(os.WriteFile(filepath.Join(hostsDir, f.host, "hosts.toml"), []byte(fmt.Sprintf("server = \"http://%s\"\n", f.host)), 0o644))
	k1, err := keystore.ParsePublicKeyPEM("k1", "inline", []byte(e.Signers["k1"].PublicPEM()))
	check(err)
	store, err := keystore.NewStore(k1)
	check(err)
	scope, err := verify.ParseScope(f.host + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "fleet", Config: "fleet", Keys: store, Policies: verify.Policies{{
		Name: "fleet", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1},
	}}}
	push := func(i int) name.Digest {
		d, err := harness.PushBusybox(fmt.Sprintf("%s/fleet/app%d:v1", e.Upstream, i), "sleep", "1")
		check(err)
		check(e.Signers["k1"].SignLegacy(d))
		d, err = name.NewDigest(fmt.Sprintf("%s/fleet/app%d@%s", f.host, i, d.DigestStr()))
		check(err)
		return d
	}
	imgs := make([]name.Digest, fleetImages)
	for i := range imgs {
		imgs[i] = push(i)
	}
	// later is how far ahead of the wall clock an engine's clock runs: a
	// rollout later than allow_ttl (10m) meets verdicts that have expired.
	newEngineAt := func(later time.Duration) *verify.Engine {
		c, err := registry.New(registry.Config{HostsDir: hostsDir})
		check(err)
		return verify.NewEngine(snap, c, verify.Options{VerifyTimeout: 10 * time.Second, Now: func() time.Time { return time.Now().Add(later) }})
	}
	newEngine := func() *verify.Engine { return newEngineAt(0) }
	// run has every node decide imgs, fleetWorkers at a time, all nodes at
	// once.
	run := func(what string, nodes []*verify.Engine, imgs []name.Digest) fleetPhase {
		time.Sleep(time.Second) // let the bucket fill, as between real events
		r0, l0 := f.requests.Load(), f.limited.Load()
		var denials, late atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for _, eng := range nodes {
			sem := make(chan struct{}, fleetWorkers)
			for _, d := range imgs {
				wg.Add(1)
				sem <- struct{}{}
				go func(eng *verify.Engine, d name.Digest) {
					defer wg.Done()
					defer func() { <-sem }()
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					t0 := time.Now()
					if v := eng.Decide(ctx, verify.Request{Image: d}); !v.Allowed {
						denials.Add(1)
					}
					if time.Since(t0) > 1500*time.Millisecond {
						late.Add(1)
					}
				}(eng, d)
			}
		}
		wg.Wait()
		return fleetPhase{what: what, requests: f.requests.Load() - r0, limited: f.limited.Load() - l0,
			verdicts: len(nodes) * len(imgs), denials: int(denials.Load()), late: int(late.Load()), images: len(imgs), took: time.Since(start)}
	}
	nodes := make([]*verify.Engine, fleetNodes)
	for i := range nodes {
		nodes[i] = newEngine()
	}
	var phases []fleetPhase
	phases = append(phases, run("first start", nodes, imgs))
	// A rollout: each node's new signgate takes back what the old one kept
	// (through JSON, as through state_dir/verdicts.json).
	restarted := make([]*verify.Engine, fleetNodes)
	later := make([]*verify.Engine, fleetNodes)
	bare := make([]*verify.Engine, fleetNodes)
	for i, old := range nodes {
		kept, _ := old.Kept()
		data, err := json.Marshal(kept)
		check(err)
		var back []verify.Kept
		check(json.Unmarshal(data, &back))
		restarted[i] = newEngine()
		restarted[i].Restore(back)
		later[i] = newEngineAt(30 * time.Minute)
		later[i].Restore(back)
		bare[i] = newEngine()
	}
	phases = append(phases, run("rollout, verdicts kept", restarted, imgs))
	phases = append(phases, run("rollout 30 min later (past allow_ttl)", later, imgs))
	phases = append(phases, run("rollout, nothing kept", bare, imgs))
	phases = append(phases, run("a new image, nodes just restarted", restarted, []name.Digest{push(fleetImages)}))
	phases = append(phases, run("a new image, nodes running", nodes, []name.Digest{push(fleetImages + 1)}))
	return phases
}

func fleetTable(w io.Writer, phases []fleetPhase) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nfleet: %d nodes, one registry answering %d requests at once and %d/s after (429 + Retry-After past that)\n", fleetNodes, fleetBurst, fleetRate)
	fmt.Fprintln(tw, "phase\trequests\tper node per image\t429s\tdenials\tslower than 1.5s\ttook")
	fmt.Fprintln(tw, "-----\t--------\t------------------\t----\t-------\t----------------\t----")
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%d\t%d of %d\t%d\t%s\n", p.what, p.requests, float64(p.requests)/float64(fleetNodes*p.images), p.limited, p.denials, p.verdicts, p.late, p.took.Round(10*time.Millisecond))
	}
	tw.Flush()
}
