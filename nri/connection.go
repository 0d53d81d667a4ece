package nri

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// deadline is how long an answer may take: Deadline, capped by what the
// runtime's NRI request timeout allows.
func (p *Plugin) deadline() time.Duration {
	if c := time.Duration(p.ceiling.Load()); c > 0 && c < p.Deadline {
		return c
	}
	return p.Deadline
}

// setRequestTimeout caps answers at three quarters of the runtime's NRI
// request timeout, leaving the rest for the round trip and containerd.
func (p *Plugin) setRequestTimeout(t time.Duration) {
	if t <= 0 {
		return
	}
	c := t * 3 / 4
	p.ceiling.Store(int64(c))
	p.admitted.setRequestTimeout(t)
	if p.Deadline > c {
		p.log().Warn("decision_deadline is too close to containerd's NRI request timeout; answering sooner",
			"decision_deadline", p.Deadline, "nri_request_timeout", t, "answering_within", c)
	}
}

// startTimeout bounds registration: containerd's own registration timeout
// is 5s by default.
const startTimeout = 30 * time.Second

// Run connects to the NRI socket and serves until ctx ends or the connection
// drops (containerd restarted): the caller reconnects. onStarted is called
// once containerd has registered and configured the plugin (the stub's own
// Start returns then), with the NRI request timeout it uses.
func (p *Plugin) Run(ctx context.Context, pluginName, index, socket string, onStarted func(requestTimeout time.Duration), onClose func()) error {
	// A new connection: nothing admitted on an earlier one is taken on it.
	p.connectionChanged()
	defer p.connectionChanged()
	closed := func() {
		p.fallback.closedBeforeStart()
		p.connectionChanged()
		if onClose != nil {
			onClose()
		}
	}
	opts := []stub.Option{stub.WithOnClose(closed), stub.WithLogger(nriLogger{p.log()})}
	// Started by containerd as a pre-installed plugin, the name, index and
	// connection come from the environment.
	if os.Getenv(api.PluginNameEnvVar) == "" {
		opts = append(opts, stub.WithPluginName(pluginName), stub.WithPluginIdx(index))
		p.setSelf(pluginName, index)
	} else {
		p.setSelf(os.Getenv(api.PluginNameEnvVar), os.Getenv(api.PluginIdxEnvVar))
	}
	if socket != "" {
		opts = append(opts, stub.WithSocketPath(socket))
	}
	s, err := stub.New(p, opts...)
	if err != nil {
		return fmt.Errorf("nri: %w", err)
	}
	// Known to the stub before it calls Configure: reported by the runtime,
	// or inferred from its name and version.
	p.runtimeNRI = s.RuntimeNRIVersion
	// On shutdown, answer the requests already in hand (each is bounded by
	// the deadline) before closing the connection.
	stop := context.AfterFunc(ctx, func() {
		done := make(chan struct{})
		go func() { p.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(p.deadline() + 100*time.Millisecond):
		}
		s.Stop()
	})
	defer stop()
	// The stub's Start waits for containerd to configure the plugin, and
	// never returns if the connection drops in between (it holds its lock
	// while waiting); give up on it then, and let the caller reconnect.
	startErr := make(chan error, 1)
	go func() { startErr <- s.Start(context.WithoutCancel(ctx)) }()
	select {
	case err := <-startErr:
		if err != nil {
			return fmt.Errorf("nri: %w", err)
		}
	case <-time.After(startTimeout):
		return fmt.Errorf("nri: containerd did not configure the plugin within %s", startTimeout)
	case <-ctx.Done():
		return nil
	}
	p.setRequestTimeout(s.RequestTimeout())
	if onStarted != nil {
		onStarted(s.RequestTimeout())
	}
	s.Wait()
	return nil
}

// connectionChanged marks a connection made or lost: containerd closes it
// when a request to signgate timed out or failed, and every admission made
// on it goes with it.
func (p *Plugin) connectionChanged() {
	p.conn.Add(1)
	p.admitted.forget()
}

// nriLogger sends the NRI stub's chatter to the plugin's logger, at debug
// level for the routine messages so the daemon stays quiet.
type nriLogger struct{ log *slog.Logger }

func (l nriLogger) Debugf(_ context.Context, f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l nriLogger) Infof(_ context.Context, f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l nriLogger) Warnf(_ context.Context, f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l nriLogger) Errorf(_ context.Context, f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }
