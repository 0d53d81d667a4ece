package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/setup"
)

// followStore is a runtime's records that only says it is followed.
type followStore struct {
	runtimeStore // nil: nothing else is asked
	followed     chan struct{}
}

func (f followStore) Follow(context.Context, func(string), func(error, time.Duration)) {
	close(f.followed)
}

// Under name = "auto" the runtime NRI's Configure names opens its own
// records (containerd's API, or CRI-O's storage), once: another runtime
// connecting later is refused, naming both. Before any, every answer is a
// doubt, and the running loop and pre-verification get an error.
func TestAutoRuntimeIsTheOneNRINames(t *testing.T) {
	for _, c := range []struct{ nri, want, other string }{
		{"containerd", config.RuntimeContainerd, "cri-o"},
		{"cri-o", config.RuntimeCRIO, "containerd"},
	} {
		t.Run(c.nri, func(t *testing.T) {
			var dialed []string
			followed := make(chan struct{})
			a := newAutoStore(config.Daemon{Runtime: config.Runtime{Name: config.RuntimeAuto}})
			a.dial = func(d config.Daemon) (runtimeStore, error) {
				dialed = append(dialed, d.Runtime.Name)
				return followStore{followed: followed}, nil
			}
			ctr := &api.Container{Name: "app"}
			if r := a.Runs(context.Background(), &api.PodSandbox{}, ctr); r.Root.Doubt == nil || !strings.Contains(r.Root.Doubt.Reason, `"auto"`) {
				t.Fatalf("before NRI named a runtime: %+v", r.Root)
			}
			if _, err := a.Images(context.Background()); !errors.Is(err, errNotDetected) {
				t.Fatalf("Images before: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go a.Follow(ctx, nil, nil)
			if err := a.choose(c.nri, "1.0.0"); err != nil {
				t.Fatal(err)
			}
			if err := a.choose(c.nri, "1.0.1"); err != nil {
				t.Fatalf("the same runtime reconnecting: %v", err)
			}
			if len(dialed) != 1 || dialed[0] != c.want {
				t.Fatalf("dialed %v, want [%s]", dialed, c.want)
			}
			err := a.choose(c.other, "9.9")
			if err == nil || !strings.Contains(err.Error(), c.other+" 9.9") || !strings.Contains(err.Error(), c.nri+"'s records") {
				t.Fatalf("another runtime connecting later: %v", err)
			}
			select {
			case <-followed:
			case <-time.After(5 * time.Second):
				t.Fatal("Follow did not follow the chosen runtime")
			}
		})
	}
	a := newAutoStore(config.Daemon{})
	if err := a.choose("podman", "5"); err == nil || !strings.Contains(err.Error(), `"podman" 5`) {
		t.Fatalf("an unknown runtime: %v", err)
	}
}

// A runtime named in [daemon.runtime] that is not the one NRI connected
// signgate to is an error naming both, which refuses the registration.
func TestConfiguredRuntimeMustBeTheOneConnected(t *testing.T) {
	for _, c := range []struct{ name, nri, other, hint string }{
		{config.RuntimeContainerd, "containerd", "cri-o", `set name = "crio"`},
		{config.RuntimeCRIO, "cri-o", "containerd", `set name = "containerd"`},
	} {
		_, check, _ := openRuntime(config.Daemon{Runtime: config.Runtime{Name: c.name}, ContainerdSocket: "/nonexistent"})
		if err := check(c.nri, "1"); err != nil {
			t.Errorf("%s connected as configured: %v", c.nri, err)
		}
		err := check(c.other, "2.2.9")
		if err == nil || !strings.Contains(err.Error(), c.other+" 2.2.9") || !strings.Contains(err.Error(), `name = "`+c.name+`"`) || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%s configured, %s connected: %v", c.name, c.other, err)
		}
	}
}

// /readyz names the runtime NRI connected signgate to, which doctor reads.
func TestReadyNamesTheRuntime(t *testing.T) {
	d := &Daemon{plugin: &nri.Plugin{}}
	if n := d.readyNote(); n != "ok" {
		t.Fatalf("before Configure: %q", n)
	}
	if _, err := d.plugin.Configure(context.Background(), "", "cri-o", "1.35.2"); err != nil {
		t.Fatal(err)
	}
	r := doctor.Running{Answered: true, Ready: true, Detail: d.readyNote()}
	if name, version, ok := r.RuntimeSeen(); !ok || name != "cri-o" || version != "1.35.2" {
		t.Fatalf("/readyz %q: %q %q %v", r.Detail, name, version, ok)
	}
}

// Under "auto", a config signgate cannot carry out on CRI-O (a stop
// policy, the probe), which a config naming crio is refused for at load,
// refuses registration once NRI names CRI-O (it only logged, and signgate
// ran as if it could stop); not on containerd.
func TestAutoOnCRIORefusesWhatCannotBeDone(t *testing.T) {
	var out bytes.Buffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&out, nil))}
	d.cfg.Store(&setup.Config{Config: &config.Config{
		Daemon: config.Daemon{Prove: config.ProveKeys{Interval: "1h"}},
		File:   config.File{Policy: []config.PolicySection{{Name: "apps", OnUntrustedRunning: "stop"}}},
	}})
	hook := d.refuseOnCRIO(func(string, string) error { return nil })
	if err := hook("containerd", "2.2.9"); err != nil {
		t.Fatalf("on containerd: %v", err)
	}
	err := hook("cri-o", "1.35.2")
	for _, want := range []string{`policy[0] "apps".on_untrusted_running = "stop"`, `daemon.prove_interval = "1h"`, "CRI-O 1.35.2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("on CRI-O, the refusal lacks %s: %v", want, err)
		}
	}
	d.cfg.Store(&setup.Config{Config: &config.Config{}})
	if err := hook("cri-o", "1.35.2"); err != nil {
		t.Errorf("a config CRI-O can carry out: %v", err)
	}
}
