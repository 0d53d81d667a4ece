package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/localapi"
)

const (
	perPullRuns   = 40
	loadCreates   = 1000
	loadImages    = 50
	loadClients   = 8
	cachedTarget  = 10000
	cacheFillers  = 8
	peakRSSTarget = 64 << 20
)

// perPull times what containerd runs on every pull through the pull-time
// gate: the small signgate-image-verifier, and the full signgate binary a
// link to /usr/bin/signgate would run, against the running daemon for an
// image it has already verified.
func perPull(e *harness.Env) []row {
	d, err := e.Image("bench/pull", "k1")
	check(err)
	ask := func(bin string, args ...string) ([]time.Duration, int64) {
		args = append(args, "-name", d.Context().String()+":v1", "-digest", d.DigestStr(), "-socket", e.APISocket())
		var lat []time.Duration
		for i := 0; i < perPullRuns; i++ {
			start := time.Now()
			out, err := exec.Command(bin, args...).Output()
			lat = append(lat, time.Since(start))
			if err != nil {
				fail(fmt.Sprintf("%s: %v: %s", bin, err, out))
			}
		}
		// The peak resident set, as GNU time reports it: a child of this
		// (large) process would count the pages it shares with it until
		// exec, and busybox's time reports four times the truth.
		var maxRSS int64
		for i := 0; i < 5; i++ {
			out, err := exec.Command("/usr/bin/time", append([]string{"-f", "maxrss=%M", bin}, args...)...).CombinedOutput()
			if err != nil {
				fail(fmt.Sprintf("/usr/bin/time %s: %v: %s", bin, err, out))
			}
			if i := strings.LastIndex(string(out), "maxrss="); i >= 0 {
				kb, _ := strconv.ParseInt(strings.TrimSpace(string(out[i+len("maxrss="):])), 10, 64)
				maxRSS = max(maxRSS, kb*1024)
			}
		}
		return lat, maxRSS
	}
	small, smallRSS := ask(filepath.Join(e.Bin, "signgate-image-verifier"))
	full, fullRSS := ask(filepath.Join(e.Bin, "signgate"), "image-verifier")
	return []row{
		summarize("pull-time gate per pull: signgate-image-verifier", small, fmt.Sprintf("max RSS %.1f MiB (target <= 5ms, <= 15 MiB)", float64(smallRSS)/(1<<20))),
		summarize("pull-time gate per pull: signgate image-verifier (full binary)", full, fmt.Sprintf("max RSS %.1f MiB", float64(fullRSS)/(1<<20))),
	}
}

// loadResult is one environment's share of the node-scale load.
type loadResult struct {
	name          string
	lat           []time.Duration
	verifications int // of the load's images, in signgate's log
	retries       int // deadline ("pending") denials
	failures      int // any other failed creation
	peakRSS       int64
}

// load drives loadCreates container creations over loadImages distinct
// signed images from loadClients concurrent CRI clients, in each
// environment in turn: what a node sees when a Deployment of many pods
// lands. Images are pulled first (as the kubelet does), so with
// pre-verification on the verification happens at pull.
func load(envs map[string]*harness.Env, order []string) []loadResult {
	var out []loadResult
	for _, n := range order {
		e := envs[n]
		digests := make([]string, loadImages)
		refs := make([]string, loadImages)
		for i := range refs {
			refs[i] = fmt.Sprintf("%s/load/app%d:v1", e.Registry, i)
			d, err := harness.PushBusybox(refs[i], "sleep", "1")
			check(err)
			check(e.Signers["k1"].SignLegacy(d))
			digests[i] = d.DigestStr()
		}
		for _, r := range refs {
			check(e.Pull(r))
		}
		pods := make([][2]string, loadClients)
		for i := range pods {
			p, c, err := e.Pod("default")
			check(err)
			pods[i] = [2]string{p, c}
		}
		res := loadResult{name: n}
		var mu sync.Mutex
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < loadClients; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= loadCreates {
						return
					}
					start := time.Now()
					_, err := e.Create(pods[w][0], pods[w][1], refs[i%loadImages])
					took := time.Since(start)
					mu.Lock()
					res.lat = append(res.lat, took)
					switch {
					case err == nil:
					case strings.Contains(err.Error(), "pending") || strings.Contains(err.Error(), "still in progress"):
						res.retries++
					default:
						res.failures++
						if res.failures == 1 {
							fmt.Fprintf(os.Stderr, "bench: %s: a creation failed: %v\n", n, err)
						}
					}
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		for _, l := range strings.Split(e.SigngateLog.String(), "\n") {
			if !strings.Contains(l, "verification finished") {
				continue
			}
			for _, d := range digests {
				if strings.Contains(l, d) {
					res.verifications++
				}
			}
		}
		res.peakRSS = peakRSS(e)
		out = append(out, res)
	}
	return out
}

// peakRSS is signgate's high-water resident set (VmHWM), or 0 without one.
func peakRSS(e *harness.Env) int64 {
	pid := e.SigngatePID()
	if pid == 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// fillCache has the daemon verify cachedTarget distinct signed images
// (through its local API, as pulls would), from an in-memory registry so
// the fill takes seconds, and reports its resident set with them cached.
func fillCache(e *harness.Env) (cached int, rss memory, took time.Duration) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := e.SigngateConfig() + fmt.Sprintf(`
[[policy]]
name = "bench-cache"
scopes = ["%s/**"]
  [policy.cosign]
  keys = ["k1"]
`, host)
	if ok, err := e.ReloadSigngate(cfg); !ok || err != nil {
		fail(fmt.Sprintf("reloading for the cache fill: %v %v", ok, err))
	}
	start := time.Now()
	var next, allowed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cacheFillers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= cachedTarget {
					return
				}
				d, err := sigtest.PushImage(fmt.Sprintf("%s/cache/app%d:v1", host, i))
				check(err)
				check(e.Signers["k1"].SignLegacy(d))
				var resp localapi.VerifyResponse
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err = localapi.Call(ctx, e.APISocket(), "POST", localapi.PathVerify, localapi.VerifyRequest{Image: d.Context().String(), Digest: d.DigestStr()}, &resp)
				cancel()
				check(err)
				if resp.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(allowed.Load()), currentRSS(e), time.Since(start)
}

// memory is signgate's resident set now, and the part of it that is the
// binary's own pages (file-backed, shared with the page cache).
type memory struct{ rss, file int64 }

func currentRSS(e *harness.Env) memory {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.SigngatePID()))
	if err != nil {
		return memory{}
	}
	var m memory
	for _, l := range strings.Split(string(b), "\n") {
		field, v, _ := strings.Cut(l, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch field {
		case "VmRSS":
			m.rss = kb * 1024
		case "RssFile":
			m.file = kb * 1024
		}
	}
	return m
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[int(float64(len(sorted)-1)*p)]
}

// loadTable prints the node-scale load and the cache fill.
func loadTable(w io.Writer, results []loadResult, cached int, rss memory, fillTook time.Duration) {
	fmt.Fprintf(w, "\nnode-scale load: %d creations over %d images, %d concurrent CRI clients\n", loadCreates, loadImages, loadClients)
	fmt.Fprintf(w, "%-34s %8s %8s %8s %8s %13s %7s %7s %9s\n", "environment", "p50", "p90", "p99", "max", "verifications", "retries", "failed", "peak RSS")
	for _, r := range results {
		rssText := "-"
		if r.peakRSS > 0 {
			rssText = fmt.Sprintf("%.1fMiB", float64(r.peakRSS)/(1<<20))
		}
		ver := "-"
		if r.peakRSS > 0 {
			ver = strconv.Itoa(r.verifications)
		}
		fmt.Fprintf(w, "%-34s %8s %8s %8s %8s %13s %7d %7d %9s\n", r.name,
			fmtDur(percentile(r.lat, 0.5)), fmtDur(percentile(r.lat, 0.9)), fmtDur(percentile(r.lat, 0.99)), fmtDur(percentile(r.lat, 1)),
			ver, r.retries, r.failures, rssText)
	}
	fmt.Fprintf(w, "goals: verifications = %d (one per image); retries = 0 with pre-verification on; peak RSS <= %d MiB\n", loadImages, peakRSSTarget>>20)
	fmt.Fprintf(w, "then %d distinct verdicts cached (%d allowed, in %s): signgate's RSS %.1f MiB (goal <= %d MiB), of which %.1f MiB are the binary's own pages\n",
		cachedTarget, cached, fillTook.Round(time.Second), float64(rss.rss)/(1<<20), peakRSSTarget>>20, float64(rss.file)/(1<<20))
}
