// Package daemon runs signgate: it loads the config and keys, serves NRI with
// reconnection, and reloads on request without ever leaving the node without
// a policy.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	nriapi "github.com/containerd/nri/pkg/api"
	"github.com/coreos/go-systemd/v22/journal"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/prove"
	"github.com/signgate/signgate/registry/podsecrets"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// Daemon is a running signgate.
type Daemon struct {
	path   string
	log    *slog.Logger
	store  runtimeStore // the runtime's records (runtime.go)
	engine atomic.Pointer[verify.Engine]
	plugin *nri.Plugin
	// podSecrets reads pods' pull secrets; nil when off (podsecrets.go).
	podSecrets atomic.Pointer[podsecrets.Source]
	podLookups *prometheus.CounterVec

	mu  sync.Mutex // serialises reloads
	cfg atomic.Pointer[setup.Config]
	// loaded fingerprints the files as the last load (or refused reload)
	// read them, for watch_config: a change from then on is seen.
	loaded atomic.Value

	connected  atomic.Bool  // the NRI connection is up
	sharedKeys atomic.Value // what warnSharedKeys last said
	readyOnce  sync.Once
	decisions  *laterRecorder // the decision log, written after each answer
	metrics    *metrics
	keysTime   atomic.Int64 // unix nanos the keys in force were loaded
	syncer     atomic.Pointer[keysync.Syncer]
	journal    bool        // key changes go to journald
	syncSoon   atomic.Bool // start left the first KMS sync to the sync loop
	rootStatus sync.Map    // trust root name -> rootStatus, for keys list
	rootStale  sync.Map    // trust root name -> whether checkTrustRoots last found it stale
	// keysChanged asks pre-verification to verify the node's images again.
	keysChanged chan struct{}
	scrapeAddr  string        // the scrape listener's address (scrape.go); "" for none
	alsoStderr  atomic.Bool   // records go to stderr beside journald (decisionstderr.go)
	running     *runningState // running containers, judged again on every change (running.go)
	// after is time.After for the listeners' retries; tests set a clock.
	after func(time.Duration) <-chan time.Time
	ps    policyState // [policy_source] (policysource.go)
}

func (d *Daemon) keysAt() time.Time { return time.Unix(0, d.keysTime.Load()) }

// New loads the config at path and prepares the daemon. Recorder may be nil:
// decisions then go to journald when it is there, else to the logger.
func New(path string, log *slog.Logger, rec nri.Recorder) (*Daemon, error) {
	cfg, err := setup.Load(path)
	if err != nil {
		return nil, err
	}
	if _, err := prove.ParseSettings(cfg); err != nil {
		return nil, err
	}
	d := &Daemon{path: path, log: log, journal: rec == nil, keysChanged: make(chan struct{}, 1)}
	if err := ensureStateDir(cfg.Daemon.StateDir, log); err != nil {
		return nil, err
	}
	d.cfg.Store(cfg)
	d.loaded.Store(fingerprint(cfg))
	d.metrics = newMetrics(d)
	d.ps.metrics = newPolicyMetrics(d.metrics.reg)
	d.ps.poke = make(chan struct{}, 1)
	d.showPolicy(cfg)
	syncer, err := setup.Syncer(cfg, nil, false)
	if err != nil {
		return nil, err
	}
	d.syncer.Store(syncer)
	d.startKeys(syncer)
	engine, err := d.buildEngine(cfg, syncer)
	if err != nil {
		return nil, err
	}
	store, onRuntime, err := openRuntime(cfg.Daemon)
	if err != nil {
		return nil, err
	}
	d.store = store
	d.restoreVerdicts(engine)
	d.running = newRunning(d, store)
	d.engine.Store(engine)
	d.keysTime.Store(time.Now().UnixNano())
	if rec == nil {
		if journal.Enabled() {
			rec = JournalRecorder{Fallback: log}
		} else {
			rec = SlogRecorder{Logger: log}
		}
	}
	d.warnConfig(cfg)
	d.warnSharedKeys(engine.Snapshot())
	// Decisions reach the log after signgate has answered (laterRecorder).
	d.decisions = newLaterRecorder(rec)
	if cfg.Daemon.Runtime.Name == config.RuntimeAuto {
		onRuntime = d.refuseOnCRIO(onRuntime)
	}
	d.plugin = &nri.Plugin{Runtime: store, OnRuntime: onRuntime, Decider: d, Log: log, Recorder: multiRecorder{d.metrics, d.decisions}, Deadline: cfg.Daemon.DecisionDeadline, Annotate: cfg.Daemon.Annotate, AllowCheckpointRestore: cfg.Daemon.AllowCheckpointRestore}
	d.plugin.Synchronized = func() { d.judgeSoon("connected to NRI") }
	// CRI-O runs a container whose start was refused: judge it at once.
	d.plugin.StartRefused = func(string) { d.judgeSoon("a container whose start was refused runs") }
	d.podLookups = newPodLookups(d.metrics.reg)
	if err := d.usePodSecrets(cfg, nil); err != nil {
		return nil, err
	}
	d.plugin.PodCredentials = d.podCredentials
	// [hooks] of the config in force: a reload or a new policy changes it.
	d.plugin.HookPrograms = func() []string { return d.config().Hooks.AllowedPrograms }
	// [added_mounts] of the config in force, and the state it knows.
	d.plugin.MountSources = func() ([]string, []string) {
		m := d.config().AddedMounts
		return m.AllowedSources, m.StateDirs
	}
	if cfg.Daemon.Runtime.Name != config.RuntimeCRIO { // CRI-O: no task API (crio.Store.StopTask)
		d.plugin.SandboxRefused = d.stopRefusedSandbox // sandbox_refused.go
	}
	return d, nil
}

// ensureStateDir makes the state directory, or tightens it to 0700: it
// holds the last-known-good keys, and whoever made it first (a DaemonSet's
// hostPath, an older package) may have left it open to every local user.
func ensureStateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state_dir %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state_dir %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state_dir %s is mode %v and cannot be made 0700: %w", dir, fi.Mode().Perm(), err)
		}
		log.Warn("state_dir was open to other users; made it 0700", "state_dir", dir, "was", fi.Mode().Perm().String())
	}
	return nil
}

func (d *Daemon) buildEngine(cfg *setup.Config, syncer *keysync.Syncer) (*verify.Engine, error) {
	cfg.Log = d.log // a credential provider's stderr, at debug level
	engine, _, err := setup.Engine(cfg, syncer, func(v *verify.Verdict) {
		d.metrics.verified(v)
		d.log.Info("verification finished", "image", v.Image, "digest", v.Digest, "policy", v.Policy,
			"verified", v.Verified, "cause", v.Cause, "took", v.Took.Round(time.Microsecond))
	})
	return engine, err
}

// warnConfig says loudly, at start and on every reload, what a valid config
// leaves open: no enforcing policy, a placeholder key.
func (d *Daemon) warnConfig(cfg *setup.Config) {
	for _, w := range cfg.Warnings() {
		d.log.Warn("config warning", "config", cfg.Path, "warning", w)
	}
}

// warnSharedKeys says when key names share key material (two names for one
// key, or a KMS alias moved onto another name's key): thresholds count them
// once. Said when the set changes, so a quiet sync stays quiet.
func (d *Daemon) warnSharedKeys(snap *verify.Snapshot) {
	shared := snap.Keys.Shared()
	key := fmt.Sprint(shared)
	if prev, _ := d.sharedKeys.Swap(key).(string); prev == key {
		return
	}
	for _, g := range shared {
		d.log.Warn("config warning", "config", d.path, "warning",
			fmt.Sprintf("keys %s hold the same key material; a threshold counts them as one key", strings.Join(g, ", ")))
	}
}

// config returns the config in force.
func (d *Daemon) config() *setup.Config { return d.cfg.Load() }

// Decide passes to the engine in force.
func (d *Daemon) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	if v := d.staleDenial(req); v != nil {
		return v
	}
	return d.engine.Load().Decide(ctx, req)
}

// Engine returns the engine in force.
func (d *Daemon) Engine() *verify.Engine { return d.engine.Load() }

// Plugin returns the NRI plugin, for setting its heartbeat.
func (d *Daemon) Plugin() *nri.Plugin { return d.plugin }

// Reload re-reads the config and keys, and syncs KMS keys. A config that
// does not load is refused and the one in force stays; a new one replaces
// the engine, so no verdict made under the old policy is reused.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notify("RELOADING=1")
	defer d.notify("READY=1")
	cfg, err := setup.Load(d.path)
	// Against the config in force after this reload (it may name new files);
	// a refused one is not tried again until the files change again.
	defer func() { d.loaded.Store(fingerprint(d.config())) }()
	if err == nil {
		err = sourceChange(d.config(), cfg)
	}
	var syncer *keysync.Syncer
	if err == nil {
		syncer, err = setup.Syncer(cfg, d.syncer.Load(), false)
	}
	if err == nil {
		changes, serr := setup.SyncKeys(cfg, syncer)
		d.reportSync(syncer, changes, serr)
		var engine *verify.Engine
		if engine, err = d.buildEngine(cfg, syncer); err == nil {
			err = d.usePodSecrets(cfg, d.config())
		}
		if err == nil {
			// Verdicts the new config and keys bind as the old did carry
			// over; the others are judged anew.
			kept, _ := d.Engine().Kept()
			engine.Restore(kept)
			if !reflect.DeepEqual(cfg.Daemon, d.config().Daemon) {
				d.log.Warn("reload: [daemon] settings change only on restart", "config", d.path)
			}
			d.engine.Store(engine)
			d.cfg.Store(cfg)
			d.showPolicy(cfg)
			d.refreshIfNoPolicy(cfg)
			d.syncer.Swap(syncer).Close()
			select {
			case d.keysChanged <- struct{}{}: // the new engine starts with no verdicts
			default:
			}
			d.judgeSoon("config reloaded")
			d.keysTime.Store(time.Now().UnixNano())
			d.metrics.keysLoaded.Set(float64(time.Now().Unix()))
			d.metrics.reloads.WithLabelValues("ok").Inc()
			d.warnConfig(cfg)
			d.warnSharedKeys(engine.Snapshot())
			d.log.Info("reloaded config", "config", d.path, "snapshot", engine.Snapshot().ID, "policies", len(cfg.Policies), "keys", len(engine.Snapshot().Keys.Keys()))
			return nil
		}
	}
	if syncer != nil {
		syncer.Close()
	}
	d.metrics.reloads.WithLabelValues("refused").Inc()
	d.log.Error("reload refused; the previous config stays in force", "config", d.path, "err", err)
	return err
}

// Run serves NRI until ctx ends, reconnecting with backoff whenever
// containerd goes away.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.store.Close()
	defer d.decisions.Close()
	// Neither listener fails the daemon: each retries until it binds.
	if d.config().Daemon.APISocket != "" {
		d.serveAPI(ctx, d.config().Daemon.APISocket)
	}
	if addr := d.config().Daemon.MetricsAddress; addr != "" {
		d.serveMetrics(ctx, addr)
	}
	if d.scrapeAddr != "" {
		d.serveScrape(ctx, d.scrapeAddr)
	}
	var onImage func(string)
	if d.config().Daemon.Preverify {
		onImage = d.preverify(ctx)
	}
	// containerd's image and snapshot events: what lets most creations be
	// decided without asking containerd, and what pre-verification hears.
	go d.store.Follow(ctx, onImage, func(err error, retry time.Duration) {
		d.log.Warn("containerd events: subscription lost; resubscribing", "err", err, "retry_in", retry)
	})
	go d.watchdog(ctx)
	// Kept verdicts are written once more on the way out, however Run ends.
	kctx, stopKeeping := context.WithCancel(ctx)
	keeping := make(chan struct{})
	go func() { defer close(keeping); d.keepVerdicts(kctx) }()
	defer func() { stopKeeping(); <-keeping }()
	go d.syncLoop(ctx)
	if every := d.config().Daemon.WatchConfig; every > 0 {
		go d.watchFiles(ctx, every)
	}
	go d.trustRootLoop(ctx)
	if d.config().Source != nil {
		go d.policyLoop(ctx)
	}
	go d.runningLoop(ctx)
	d.startProve(ctx)
	defer d.notify("STOPPING=1")
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		closed := make(chan struct{})
		var once sync.Once
		start := time.Now()
		errc := make(chan error, 1)
		started := make(chan time.Duration, 1)
		go func() {
			errc <- d.plugin.Run(ctx, d.config().Daemon.PluginName, d.config().Daemon.PluginIndex, d.config().Daemon.NRISocket,
				func(t time.Duration) { started <- t }, func() { once.Do(func() { close(closed) }) })
		}()
		// "connected" once containerd has registered and configured the
		// plugin: the NRI stub's Start returns then.
		var err error
		select {
		case err = <-errc:
		case <-closed:
			err = <-errc
		case t := <-started:
			d.log.Info("connected to NRI", "socket", d.config().Daemon.NRISocket, "plugin", d.config().Daemon.PluginIndex+"-"+d.config().Daemon.PluginName, "request_timeout", t)
			d.connected.Store(true)
			// READY only once the keystore is loaded (it is, since New) and
			// NRI is up: systemd orders units after signgate on this.
			d.readyOnce.Do(func() { d.notify("READY=1\nSTATUS=gating container creation") })
			err = <-errc
			d.connected.Store(false)
		}
		if ctx.Err() != nil {
			break
		}
		// Started by containerd as a pre-installed plugin, the connection was
		// handed over and cannot be dialled again: exit, and containerd
		// starts signgate anew with itself.
		if os.Getenv(nriapi.PluginSocketEnvVar) != "" {
			return fmt.Errorf("NRI connection closed: %v", errOr(err, "closed by containerd"))
		}
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		d.log.Warn("NRI connection lost; reconnecting", "socket", d.config().Daemon.NRISocket, "err", errOr(err, "closed by containerd"), "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func errOr(err error, s string) any {
	if err == nil {
		return s
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	return fmt.Sprint(err)
}
