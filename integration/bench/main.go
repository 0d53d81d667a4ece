// Command bench measures signgate where it matters and prints a table:
// verification cold and warm against a loopback distribution registry, the
// real cosign CLI on the same images (as a ratio), and the latency signgate
// adds to `crictl create` when the verdict is cached. Run it with `make bench`.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

const (
	imagesPerFormat = 20
	cliRuns         = 10
	warmRuns        = 20000
	createRuns      = 200 // the create rows differ by less than their noise at 60
	afterPullRuns   = 100
)

type row struct {
	what   string
	median time.Duration
	p90    time.Duration
	n      int
	note   string
}

func main() {
	bin := os.Getenv("SIGNGATE_TEST_BIN")
	if bin == "" {
		fail("run this with `make bench`")
	}
	if out := os.Getenv("SIGNGATE_PROFILE"); out != "" {
		profile(bin, out, 30*time.Second)
		return
	}
	// SIGNGATE_BENCH=fleet runs the fleet alone (a minute, one containerd).
	if os.Getenv("SIGNGATE_BENCH") == "fleet" {
		e, err := harness.Start(harness.Options{Bin: bin, DropIn: "packaging/containerd/signgate.toml"})
		if err != nil {
			stop(e)
			fail(err.Error())
		}
		defer stop(e)
		fleetTable(os.Stdout, fleet(e))
		return
	}
	var rows []row
	// SIGNGATE_BENCH=credentials runs the credential rows alone
	// (credentials.go).
	if os.Getenv("SIGNGATE_BENCH") == "credentials" {
		e, err := harness.Start(harness.Options{Bin: bin, NoGate: true})
		if err != nil {
			stop(e)
			fail(err.Error())
		}
		defer stop(e)
		printRows(credentialRows(e))
		return
	}
	// SIGNGATE_BENCH=crio runs the CRI-O rows alone (crio.go).
	if os.Getenv("SIGNGATE_BENCH") == "crio" {
		crioTable(func(o harness.Options) *harness.Env {
			o.Bin = bin
			e, err := harness.Start(o)
			if err != nil {
				stop(e)
				fail(err.Error())
			}
			return e
		})
		return
	}

	// Three containerds side by side: with signgate, with NRI but no plugin,
	// and without NRI. Creates alternate between them, so each sample of each
	// sees the same machine.
	start := func(o harness.Options) *harness.Env {
		o.Bin = bin
		e, err := harness.Start(o)
		if err != nil {
			stop(e)
			fail(err.Error())
		}
		return e
	}
	gatedEnv := start(harness.Options{DropIn: "packaging/containerd/signgate.toml"})
	defer stop(gatedEnv)
	nriEnv := start(harness.Options{NoGate: true})
	defer stop(nriEnv)
	plainEnv := start(harness.Options{NoGate: true, NoNRI: true})
	defer stop(plainEnv)
	// And a fourth with a plugin that answers at once: NRI's own cost.
	noopEnv := start(harness.Options{NoGate: true})
	defer stop(noopEnv)
	noopCtx, stopNoop := context.WithCancel(context.Background())
	defer stopNoop()
	startNoop(noopCtx, noopEnv, "noop", false)
	// And a fifth under signgate's own containerd drop-in (NRI's default
	// validator, signgate required), its plugin answering at once: what
	// containerd's side of signgate costs, without signgate's decision.
	noopGatedEnv := start(harness.Options{StandIn: true, DropIn: "packaging/containerd/signgate.toml"})
	defer stop(noopGatedEnv)
	startNoop(noopCtx, noopGatedEnv, "signgate", false)
	// And a sixth, the same stand-in adjusting what signgate adjusts (four
	// annotations): what is left over it is signgate's own handling.
	annotatedEnv := start(harness.Options{StandIn: true, DropIn: "packaging/containerd/signgate.toml"})
	defer stop(annotatedEnv)
	startNoop(noopCtx, annotatedEnv, "signgate", true)
	// And a seventh: signgate with annotate = true (opt-in).
	annotatingEnv := start(harness.Options{DropIn: "packaging/containerd/signgate.toml", SigngateConfig: func(e *harness.Env) string {
		return strings.Replace(harness.DefaultSigngateConfig(e), "[daemon]\n", "[daemon]\nannotate = true\n", 1)
	}})
	defer stop(annotatingEnv)

	rows = append(rows, verification(gatedEnv)...)
	rows = append(rows, credentialRows(gatedEnv)...)

	lat := creates([]*harness.Env{gatedEnv, nriEnv, plainEnv, noopEnv, noopGatedEnv, annotatedEnv, annotatingEnv})
	gated, nriOnly, noNRI, noop, noopGated, annotated, annotating := lat[0], lat[1], lat[2], lat[3], lat[4], lat[5], lat[6]
	var decision []time.Duration
	for _, m := range tookRE.FindAllStringSubmatch(gatedEnv.SigngateLog.String(), -1) {
		if d, err := time.ParseDuration(m[1]); err == nil {
			decision = append(decision, d)
		}
	}
	rows = append(rows,
		summarize("crictl create, containerd without NRI", noNRI, ""),
		summarize("crictl create, NRI on, no plugin", nriOnly, ""),
		summarize("crictl create, a plugin that answers at once", noop, fmt.Sprintf("NRI's cost for any plugin: %s over NRI alone", paired(noop, nriOnly))),
		summarize("crictl create, the same under signgate's containerd drop-in", noopGated, fmt.Sprintf("default validator, plugin required: %s over the plain no-op", paired(noopGated, noop))),
		summarize("crictl create, the same stand-in adding signgate's 4 annotations", annotated, fmt.Sprintf("the annotations cost %s", paired(annotated, noopGated))),
		summarize("crictl create, with signgate, default config (cached verdict)", gated, fmt.Sprintf("adds %s over no NRI, %s over NRI alone (target <= 1ms), %s over the no-op plugin under the same drop-in (target <= 0.3ms)",
			paired(gated, noNRI), paired(gated, nriOnly), paired(gated, noopGated))),
		summarize("crictl create, with signgate, annotate = true", annotating, fmt.Sprintf("adds %s over the default, %s over the stand-in adding the same annotations",
			paired(annotating, gated), paired(annotating, annotated))),
		summarize("  decision inside the plugin (cached)", decision, "containerd lookups + cached verdict (target <= 100µs)"),
		recordRow(),
	)
	rows = append(rows, crioRows(start)...)
	// (After the create comparison, so that the containerds compared
	// there have the same history: pulls and containers slow a
	// containerd's creates.)
	// Pre-verification: creates right after pulls, with it on (gatedEnv) and
	// off (a signgate that verifies only when CreateContainer asks).
	offEnv := start(harness.Options{DropIn: "packaging/containerd/signgate.toml", SigngateConfig: func(e *harness.Env) string {
		return strings.Replace(harness.DefaultSigngateConfig(e), "[daemon]\n", "[daemon]\npreverify = false\n", 1)
	}})
	defer stop(offEnv)
	on, off := afterPull(gatedEnv, offEnv)
	rows = append(rows,
		summarize("create right after pull, pre-verification off", off, ""),
		summarize("create right after pull, pre-verification on", on, fmt.Sprintf("%.1fx faster at the median", float64(median(off))/float64(median(on)))),
	)
	pod, podCfg, err := gatedEnv.Pod("default")
	check(err)
	id, err := gatedEnv.Create(pod, podCfg, gatedEnv.Registry+"/bench/create:v1")
	check(err)
	rows = append(rows, roundTrips(gatedEnv, gatedEnv.Registry+"/bench/create:v1", id)...)

	rows = append(rows, perPull(gatedEnv)...)
	results := load(map[string]*harness.Env{
		"signgate, pre-verification on":  gatedEnv,
		"signgate, pre-verification off": offEnv,
		"NRI on, no signgate":            nriEnv,
	}, []string{"signgate, pre-verification on", "signgate, pre-verification off", "NRI on, no signgate"})
	cached, rss, fillTook := fillCache(gatedEnv)

	printRows(rows)
	loadTable(os.Stdout, results, cached, rss, fillTook)
	fleetTable(os.Stdout, fleet(gatedEnv))
}

// printRows prints the table of rows.
func printRows(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nmeasurement\tmedian\tp90\tn\tnote")
	fmt.Fprintln(tw, "-----------\t------\t---\t-\t----")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.what, fmtDur(r.median), fmtDur(r.p90), r.n, r.note)
	}
	tw.Flush()
}

// verification measures the engine against the distribution registry, and
// the cosign CLI on the same images.
func verification(e *harness.Env) []row {
	k1, err := keystore.ParsePublicKeyPEM("k1", "inline", []byte(e.Signers["k1"].PublicPEM()))
	check(err)
	store, err := keystore.NewStore(k1)
	check(err)
	scope, err := verify.ParseScope(e.Upstream + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "bench", Keys: store, Policies: verify.Policies{{
		Name: "bench", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1},
	}}}
	// The registry speaks plain HTTP: say so in hosts.toml, as a node would
	// for containerd, so no TLS handshake is tried.
	hostsDir := filepath.Join(e.Dir, "bench-certs.d")
	check(os.MkdirAll(filepath.Join(hostsDir, e.Upstream), 0o755))
	check(os.WriteFile(filepath.Join(hostsDir, e.Upstream, "hosts.toml"), []byte(fmt.Sprintf("server = \"http://%s\"\n", e.Upstream)), 0o644))
	engine := func() *verify.Engine {
		return verify.NewEngine(snap, newRegistry(hostsDir), verify.Options{})
	}

	var rows []row
	var warmEngine *verify.Engine
	var warmImg name.Digest
	for _, format := range []string{verify.FormatLegacy, verify.FormatBundle} {
		imgs := make([]name.Digest, imagesPerFormat)
		for i := range imgs {
			d, err := harness.PushBusybox(fmt.Sprintf("%s/bench/%s%d:v1", e.Registry, format, i), "sleep", "1")
			check(err)
			if format == verify.FormatLegacy {
				err = e.Signers["k1"].SignLegacy(d)
			} else {
				err = e.Signers["k1"].SignBundle(d)
			}
			check(err)
			// Measure signgate, not the suite's hang proxy: read the
			// registry directly.
			imgs[i], err = name.NewDigest(strings.Replace(d.String(), e.Registry, e.Upstream, 1))
			check(err)
		}
		// Cold: a new engine (no cache, no connections) per image. And
		// each image new to one running engine, as a node meets an image
		// it has not verified: its connections and what it learnt of the
		// registry kept. The two alternate which reads an image first.
		var cold, fresh []time.Duration
		var reg, freshReg []exchangeTally
		running := engine()
		running.Decide(context.Background(), verify.Request{Image: warmup(e, format)})
		for i, d := range imgs {
			measure := func(eng *verify.Engine, lat *[]time.Duration, tallies *[]exchangeTally) {
				exchanges.take()
				start := time.Now()
				v := eng.Decide(context.Background(), verify.Request{Image: d})
				*lat = append(*lat, time.Since(start))
				*tallies = append(*tallies, exchanges.take())
				if !v.Allowed {
					fail("bench image denied: " + v.Reason)
				}
			}
			eng := engine()
			if i%2 == 0 {
				measure(eng, &cold, &reg)
				measure(running, &fresh, &freshReg)
			} else {
				measure(running, &fresh, &freshReg)
				measure(eng, &cold, &reg)
			}
			warmEngine, warmImg = eng, d
		}
		var cli []time.Duration
		for i := 0; i < cliRuns; i++ {
			d := imgs[i%len(imgs)]
			start := time.Now()
			out, err := e.Cosign(e.Dir, "verify", "--key", filepath.Join(e.Dir, "keys", "k1.pub"), "--insecure-ignore-tlog=true", d.String())
			cli = append(cli, time.Since(start))
			if err != nil {
				fail("cosign verify: " + out)
			}
		}
		c := summarize(fmt.Sprintf("verify cold, %s signature (signgate engine)", format), cold, "")
		l := summarize(fmt.Sprintf("verify, %s signature (cosign verify --key CLI)", format), cli, "")
		c.note = fmt.Sprintf("%.1fx faster than the CLI (target >= 10x; cold target <= 5ms)", float64(l.median)/float64(c.median))
		f := summarize(fmt.Sprintf("verify, %s signature new to a running engine", format), fresh, "")
		f.note = fmt.Sprintf("%.1fx faster than the CLI", float64(l.median)/float64(f.median))
		rows = append(rows, c, registryRow(cold, reg), f, registryRow(fresh, freshReg), l)
	}
	rows = append(rows, notationRows(e, hostsDir)...)
	rows = append(rows, keylessRows(e, hostsDir)...)
	rows = append(rows, attestationRows(e, hostsDir)...)
	rows = append(rows, inMemory(e)...)
	warm := make([]time.Duration, warmRuns)
	for i := range warm {
		start := time.Now()
		warmEngine.Decide(context.Background(), verify.Request{Image: warmImg})
		warm[i] = time.Since(start)
	}
	return append(rows, summarize("decide warm (cached verdict)", warm, "target <= 50µs"))
}

// warmup is a signed image the running engine verifies first, so that
// its connections are open and the registry known.
func warmup(e *harness.Env, format string) name.Digest {
	d, err := harness.PushBusybox(fmt.Sprintf("%s/bench/%s-warmup:v1", e.Upstream, format), "sleep", "1")
	check(err)
	if format == verify.FormatLegacy {
		check(e.Signers["k1"].SignLegacy(d))
	} else {
		check(e.Signers["k1"].SignBundle(d))
	}
	return d
}

// notationRows measures Notary Project verification: the engine cold and
// warm, and the real notation CLI on the same images.
func notationRows(e *harness.Env, hostsDir string) []row {
	root, err := keystore.ParseCertsPEM("n1", "inline", keystore.CertCA, []byte(e.Notary.RootPEM()), time.Now())
	check(err)
	base, err := keystore.NewStore()
	check(err)
	store, err := base.WithCerts(root)
	check(err)
	scope, err := verify.ParseScope(e.Upstream + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "notation", Keys: store, Policies: verify.Policies{{
		Name: "bench", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Notation: &verify.NotationRequirement{Roots: []string{"n1"}, Identities: []string{"*"}, Level: "strict", Threshold: 1},
	}}}
	imgs := make([]name.Digest, imagesPerFormat)
	for i := range imgs {
		d, err := harness.PushBusybox(fmt.Sprintf("%s/bench/notation%d:v1", e.Upstream, i), "sleep", "1")
		check(err)
		check(e.SignNotation(d, "application/jose+json"))
		imgs[i] = d
	}
	cold, reg, fresh, freshReg, warm := coldFreshAndWarm(snap, hostsDir, imgs, "notation")

	// The notation CLI, with the same root in its trust store.
	home := filepath.Join(e.Dir, "bench-notation")
	notation := func(args ...string) {
		cmd := exec.Command(filepath.Join(e.Bin, "notation"), args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
		if out, err := cmd.CombinedOutput(); err != nil {
			fail(fmt.Sprintf("notation %s: %v\n%s", strings.Join(args, " "), err, out))
		}
	}
	rootFile := filepath.Join(e.Dir, "keys", "n1.pem")
	notation("cert", "add", "--type", "ca", "--store", "signgate", rootFile)
	policy := filepath.Join(e.Dir, "bench-trustpolicy.json")
	check(os.WriteFile(policy, []byte(`{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:signgate"],"trustedIdentities":["*"]}]}`), 0o644))
	notation("policy", "import", "--force", policy)
	var cli []time.Duration
	for i := 0; i < cliRuns; i++ {
		start := time.Now()
		notation("verify", "--insecure-registry", imgs[i%len(imgs)].String())
		cli = append(cli, time.Since(start))
	}
	c := summarize("verify cold, notation JWS signature (signgate engine)", cold, "")
	l := summarize("verify, notation JWS signature (notation verify CLI)", cli, "")
	c.note = fmt.Sprintf("%.1fx faster than the CLI (target >= 4x)", float64(l.median)/float64(c.median))
	f := summarize("verify, notation JWS signature new to a running engine", fresh, "")
	f.note = fmt.Sprintf("%.1fx faster than the CLI", float64(l.median)/float64(f.median))
	return []row{c, registryRow(cold, reg), f, registryRow(fresh, freshReg), l, summarize("decide warm, notation (cached verdict)", warm, "")}
}

// inMemory measures the engine against go-containerregistry's in-memory
// registry over loopback HTTP: signgate's own cost, without the distribution
// registry's filesystem latency (2-4ms per manifest on these machines).
func inMemory(e *harness.Env) []row {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	k1, err := keystore.ParsePublicKeyPEM("k1", "inline", []byte(e.Signers["k1"].PublicPEM()))
	check(err)
	store, err := keystore.NewStore(k1)
	check(err)
	scope, err := verify.ParseScope(host + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "mem", Keys: store, Policies: verify.Policies{{
		Name: "mem", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1},
	}}}
	var cold []time.Duration
	var reg []exchangeTally
	for i := 0; i < imagesPerFormat; i++ {
		d, err := harness.PushBusybox(fmt.Sprintf("%s/mem/app%d:v1", host, i), "sleep", "1")
		check(err)
		check(e.Signers["k1"].SignBundle(d))
		eng := verify.NewEngine(snap, newRegistry(""), verify.Options{})
		exchanges.take()
		start := time.Now()
		v := eng.Decide(context.Background(), verify.Request{Image: d})
		cold = append(cold, time.Since(start))
		reg = append(reg, exchanges.take())
		if !v.Allowed {
			fail("in-memory bench image denied: " + v.Reason)
		}
	}
	return []row{summarize("verify cold, bundle, in-memory registry (signgate's own cost)", cold, ""), registryRow(cold, reg)}
}

// tookRE finds the steady-state decisions: the bench/create image, cached.
var tookRE = regexp.MustCompile(`bench/create:v1" [^\n]*cached=true [^\n]*?took=([0-9.]+(?:µs|ms|s|ns))`)

// afterPull pulls fresh signed images and creates a container of each at
// once, alternating between the environments, and times the creates.
func afterPull(on, off *harness.Env) (onLat, offLat []time.Duration) {
	type target struct {
		e   *harness.Env
		pod string
		cfg string
		lat *[]time.Duration
	}
	var targets []target
	for _, x := range []struct {
		e   *harness.Env
		lat *[]time.Duration
	}{{on, &onLat}, {off, &offLat}} {
		pod, cfg, err := x.e.Pod("default")
		check(err)
		targets = append(targets, target{x.e, pod, cfg, x.lat})
	}
	for i := 0; i < afterPullRuns; i++ {
		for _, t := range targets {
			repo := fmt.Sprintf("%s/afterpull/app%d", t.e.Registry, i)
			d, err := harness.PushBusybox(repo+":v1", "sleep", "1")
			check(err)
			check(t.e.Signers["k1"].SignLegacy(d))
			check(t.e.Pull(repo + ":v1"))
			start := time.Now()
			_, err = t.e.Create(t.pod, t.cfg, repo+":v1")
			*t.lat = append(*t.lat, time.Since(start))
			check(err)
		}
	}
	return onLat, offLat
}

// creates times crictl create of a signed image (its verdict cached) in each
// environment, alternating between them.
func creates(envs []*harness.Env) [][]time.Duration {
	type target struct{ pod, cfg, image string }
	targets := make([]target, len(envs))
	for i, e := range envs {
		_, err := e.Image("bench/create", "k1")
		check(err)
		pod, cfg, err := e.Pod("default")
		check(err)
		targets[i] = target{pod, cfg, e.Registry + "/bench/create:v1"}
		_, err = e.Create(pod, cfg, targets[i].image) // warms the verdict and containerd
		check(err)
	}
	lat := make([][]time.Duration, len(envs))
	for r := 0; r < createRuns; r++ {
		for i, e := range envs {
			t := targets[i]
			start := time.Now()
			_, err := e.Create(t.pod, t.cfg, t.image)
			lat[i] = append(lat[i], time.Since(start))
			check(err)
		}
	}
	return lat
}

func summarize(what string, ds []time.Duration, note string) row {
	if len(ds) == 0 {
		return row{what: what, note: "no samples"}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return row{what: what, median: s[len(s)/2], p90: s[len(s)*9/10], n: len(s), note: note}
}

func median(ds []time.Duration) time.Duration { return summarize("", ds, "").median }

// paired is the median of a's samples less b's taken in the same round
// (creates alternate between the containerds): steadier than the
// difference of medians while the machine's load drifts.
func paired(a, b []time.Duration) time.Duration {
	n := min(len(a), len(b))
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = a[i] - b[i]
	}
	return median(d).Round(10 * time.Microsecond)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + "µs"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

func stop(e *harness.Env) {
	if e != nil {
		e.Stop()
	}
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "bench:", strings.TrimSpace(msg))
	os.Exit(1)
}

// coldAndWarm decides each image with a new engine (no cache, no
// connections), then the last one again and again from the cache.
func coldAndWarm(snap *verify.Snapshot, hostsDir string, imgs []name.Digest, what string) (cold []time.Duration, reg []exchangeTally, warm []time.Duration) {
	cold, reg, _, _, warm = coldFreshAndWarm(snap, hostsDir, imgs, what)
	return cold, reg, warm
}

// coldFreshAndWarm also decides each image (but the last, which warms it
// up) with one running engine, alternating which of the two reads an
// image first: an image new to a node's engine.
func coldFreshAndWarm(snap *verify.Snapshot, hostsDir string, imgs []name.Digest, what string) (cold []time.Duration, reg []exchangeTally, fresh []time.Duration, freshReg []exchangeTally, warm []time.Duration) {
	measure := func(eng *verify.Engine, d name.Digest, lat *[]time.Duration, tallies *[]exchangeTally) {
		exchanges.take()
		start := time.Now()
		v := eng.Decide(context.Background(), verify.Request{Image: d})
		*lat = append(*lat, time.Since(start))
		*tallies = append(*tallies, exchanges.take())
		if !v.Allowed {
			fail(what + " bench image denied: " + v.Reason)
		}
	}
	running := verify.NewEngine(snap, newRegistry(hostsDir), verify.Options{})
	running.Decide(context.Background(), verify.Request{Image: imgs[len(imgs)-1]})
	var eng *verify.Engine
	for i, d := range imgs[:len(imgs)-1] {
		eng = verify.NewEngine(snap, newRegistry(hostsDir), verify.Options{})
		if i%2 == 0 {
			measure(eng, d, &cold, &reg)
			measure(running, d, &fresh, &freshReg)
		} else {
			measure(running, d, &fresh, &freshReg)
			measure(eng, d, &cold, &reg)
		}
	}
	warm = make([]time.Duration, warmRuns/10)
	for i := range warm {
		start := time.Now()
		eng.Decide(context.Background(), verify.Request{Image: imgs[0]})
		warm[i] = time.Since(start)
	}
	return cold, reg, fresh, freshReg, warm
}

// keylessRows measures keyless verification (a Fulcio certificate, a Rekor
// entry and a timestamp, from the suite's in-memory Sigstore): the engine
// cold and warm, and `cosign verify --certificate-identity ...` offline
// against the same trusted root on the same images.
func keylessRows(e *harness.Env, hostsDir string) []row {
	const (
		issuer   = "https://token.actions.githubusercontent.com"
		identity = "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"
	)
	rootFile := filepath.Join(e.Dir, "keys", "trusted_root.json")
	tr, err := verify.LoadTrustRoot("local", rootFile)
	check(err)
	signer, err := verify.NewSigner(&verify.Identity{Name: "release", TrustRoot: "local", Issuer: issuer, Subject: identity}, tr)
	check(err)
	store, err := keystore.NewStore()
	check(err)
	scope, err := verify.ParseScope(e.Upstream + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "keyless", Keys: store, Signers: map[string]*verify.Signer{"release": signer}, Policies: verify.Policies{{
		Name: "bench", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Identities: []string{"release"}, Threshold: 1, Tlog: verify.TlogRequire},
	}}}
	imgs := make([]name.Digest, imagesPerFormat)
	for i := range imgs {
		d, err := harness.PushBusybox(fmt.Sprintf("%s/bench/keyless%d:v1", e.Upstream, i), "sleep", "1")
		check(err)
		check(e.Sigstore.SignKeylessLegacy(d, identity, issuer, sigtest.KeylessOptions{}))
		imgs[i] = d
	}
	cold, reg, warm := coldAndWarm(snap, hostsDir, imgs, "keyless")
	var cli []time.Duration
	for i := 0; i < cliRuns; i++ {
		start := time.Now()
		// The in-memory Sigstore has no CT log, so neither side asks for SCTs.
		out, err := e.Cosign(e.Dir, "verify", "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
			"--trusted-root", rootFile, "--insecure-ignore-sct", imgs[i%len(imgs)].String())
		cli = append(cli, time.Since(start))
		if err != nil {
			fail("cosign verify (keyless): " + out)
		}
	}
	c := summarize("verify cold, keyless legacy signature (signgate engine)", cold, "")
	l := summarize("verify, keyless (cosign verify --certificate-identity CLI, offline)", cli, "")
	c.note = fmt.Sprintf("%.1fx faster than the CLI (target >= 5x)", float64(l.median)/float64(c.median))
	return []row{c, registryRow(cold, reg), l, summarize("decide warm, keyless (cached verdict)", warm, "target: as keys")}
}
