package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/verify"
)

// metrics are signgate's Prometheus metrics, on their own registry.
type metrics struct {
	reg           *prometheus.Registry
	decisions     *prometheus.CounterVec
	cache         *prometheus.CounterVec
	verifications *prometheus.CounterVec
	verifyTime    prometheus.Histogram
	reloads       *prometheus.CounterVec
	keysLoaded    prometheus.Gauge
	// verdictsRestored counts verdicts taken back from the state directory.
	verdictsRestored prometheus.Counter
	kmsSyncs         *prometheus.CounterVec
	kmsLastSync      *prometheus.GaugeVec
	kmsVersions      *prometheus.GaugeVec
	kmsStale         *prometheus.GaugeVec
	kmsUnusable      *prometheus.GaugeVec
	rootRefresh      *prometheus.CounterVec
	rootLast         *prometheus.GaugeVec
	rootUntil        *prometheus.GaugeVec
	rootStale        *prometheus.GaugeVec
	listenerUp       *prometheus.GaugeVec
	bindFailures     *prometheus.CounterVec
	// probing: the enforcement probe's pods in flight (prove_decisions.go).
	probing *probePods
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(), probing: &probePods{},
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_decisions_total", Help: "CreateContainer decisions, by decision (allow, deny, audit), policy and source: runtime, or probe for the enforcement probe's own pod (its denials are deliberate).",
		}, []string{"decision", "policy", "source"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_verdict_cache_total", Help: "CreateContainer decisions answered from the verdict cache (hit) or not (miss).",
		}, []string{"result"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_verifications_total", Help: "Verifications run, by result: verified, rejected, registry_error (signatures could not be read), or renewed (an expired allow kept, its signatures' listings unchanged).",
		}, []string{"result"}),
		verifyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "signgate_verification_duration_seconds", Help: "Time to verify one image (not cache hits).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_config_reloads_total", Help: "Config and keystore reloads, by result (ok, refused).",
		}, []string{"result"}),
		verdictsRestored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signgate_verdicts_restored_total", Help: "Verified verdicts taken back from the state directory at start, each one a verification the registry was not asked for again.",
		}),
		keysLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_keystore_loaded_timestamp_seconds", Help: "When the keys in force were loaded.",
		}),
		kmsSyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_kms_syncs_total", Help: "KMS key syncs, by result (ok, error: at least one key could not be synced).",
		}, []string{"result"}),
		kmsLastSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_kms_key_last_sync_timestamp_seconds", Help: "When each KMS key was last synced successfully.",
		}, []string{"key"}),
		kmsVersions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_kms_key_trusted_versions", Help: "Versions of each KMS key trusted now (0: images needing it are denied).",
		}, []string{"key"}),
		kmsStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_kms_key_stale", Help: "1 while a KMS key is past kms.max_staleness and not trusted.",
		}, []string{"key"}),
		kmsUnusable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_kms_key_unusable_versions", Help: "Versions of each KMS key the KMS reports enabled that signgate cannot use (unsupported algorithm, public key not served or malformed); none is trusted.",
		}, []string{"key"}),
		rootRefresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_trust_root_refreshes_total", Help: "TUF updates of trust roots, by trust root and result (updated, unchanged, error: the last-known-good stays).",
		}, []string{"trust_root", "result"}),
		rootLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_trust_root_last_refresh_timestamp_seconds", Help: "When each TUF trust root was last verified from its repository.",
		}, []string{"trust_root"}),
		rootUntil: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_trust_root_trusted_until_timestamp_seconds", Help: "When each TUF trust root goes stale unless its repository vouches for it again (max_staleness, or its TUF metadata's expiry).",
		}, []string{"trust_root"}),
		rootStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_trust_root_stale", Help: "1 while a TUF trust root is past its staleness limit: keyless identities under it verify nothing.",
		}, []string{"trust_root"}),
		listenerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_listener_up", Help: "1 while a listener (metrics, api, scrape) is bound; 0 while it cannot bind and is retried (the gate runs without it).",
		}, []string{"listener"}),
		bindFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_listener_bind_failures_total", Help: "Failed attempts to bind a listener (metrics, api, scrape), e.g. its address held by another process.",
		}, []string{"listener"}),
	}
	m.reg.MustRegister(m.listenerUp, m.bindFailures, m.decisions, m.cache, m.verifications, m.verifyTime, m.reloads, m.keysLoaded, m.verdictsRestored,
		m.kmsSyncs, m.kmsLastSync, m.kmsVersions, m.kmsStale, m.kmsUnusable, m.rootRefresh, m.rootLast, m.rootUntil, m.rootStale,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signgate_verifications_in_flight", Help: "Verifications running now, renewals of expired verdicts included.",
		}, func() float64 { return float64(d.Engine().InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signgate_enforcing_policies", Help: "Policies in mode enforce in the config in force (0: no image is ever refused for its signatures).",
		}, func() float64 { return float64(d.config().EnforcingPolicies()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signgate_keystore_keys", Help: "Keys in the keystore in force.",
		}, func() float64 { return float64(len(d.Engine().Snapshot().Keys.Keys())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signgate_nri_connected", Help: "1 while signgate is connected to containerd's NRI socket.",
		}, func() float64 {
			if d.connected.Load() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signgate_keystore_age_seconds", Help: "Seconds since the keys in force were loaded.",
		}, func() float64 { return time.Since(d.keysAt()).Seconds() }),
	)
	m.keysLoaded.Set(float64(time.Now().Unix()))
	return m
}

// synced observes a KMS sync round.
func (m *metrics) synced(s *keysync.Syncer, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.kmsSyncs.WithLabelValues(result).Inc()
	m.kmsLastSync.Reset()
	m.kmsVersions.Reset()
	m.kmsStale.Reset()
	m.kmsUnusable.Reset()
	for _, st := range s.Statuses() {
		if !st.LastSync.IsZero() {
			m.kmsLastSync.WithLabelValues(st.Name).Set(float64(st.LastSync.Unix()))
		}
		stale := 0.0
		n := float64(len(st.Versions))
		if s.IsStale(st.Name) {
			stale, n = 1, 0
		}
		m.kmsVersions.WithLabelValues(st.Name).Set(n)
		m.kmsStale.WithLabelValues(st.Name).Set(stale)
		m.kmsUnusable.WithLabelValues(st.Name).Set(float64(len(st.Unusable)))
	}
}

// verified observes one finished verification.
func (m *metrics) verified(v *verify.Verdict) {
	result := "rejected"
	switch {
	case v.Renewed: // a listing or two asked again, not a verification's time
		m.verifications.WithLabelValues("renewed").Inc()
		return
	case v.Cause == verify.CauseVerified:
		result = "verified"
	case v.Cause == verify.CauseRegistryError || v.Cause == verify.CauseRateLimited: // signatures could not be read
		result = "registry_error"
	}
	m.verifications.WithLabelValues(result).Inc()
	m.verifyTime.Observe(v.Took.Seconds())
}

// Record counts a CreateContainer decision (it is an nri.Recorder).
func (m *metrics) Record(d nri.Decision) {
	m.decisions.WithLabelValues(decisionOf(d), d.Verdict.Policy, m.probing.source(d)).Inc()
	if d.Verdict.Cached {
		m.cache.WithLabelValues("hit").Inc()
	} else {
		m.cache.WithLabelValues("miss").Inc()
	}
}

// serveMetrics serves /metrics, /healthz and /readyz on addr (loopback by
// default). /healthz: the process and its decision path answer. /readyz:
// also connected to NRI, so containers on this node can be created. The
// local API socket serves the same two, so probes do not depend on addr.
func (d *Daemon) serveMetrics(ctx context.Context, addr string) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	d.handleHealth(mux)
	d.listen(ctx, "metrics", addr, bindTCP("metrics_address", addr), func(l net.Listener) {
		d.serve(ctx, l, mux, "metrics")
		d.log.Info("serving metrics and health", "address", l.Addr().String())
	})
}

// handleHealth adds /healthz and /readyz to mux. Each answer carries
// localapi.HeaderSigngate, so a probe knows it reached signgate and not whatever
// else holds the port.
func (d *Daemon) handleHealth(mux *http.ServeMux) {
	mux.HandleFunc("GET "+localapi.PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(localapi.HeaderSigngate, "1")
		if err := d.Engine().Probe(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+localapi.PathReadyz, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(localapi.HeaderSigngate, "1")
		if err := d.Healthy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, d.readyNote())
	})
}
