package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// hooker stands for an NRI plugin after signgate that adds an OCI hook
// (as GPU plugins add nvidia-ctk's) to every container of a pod in one of
// its namespaces, which the runtime would run on the host as root.
type hooker struct{ hooks map[string]*api.Hook }

func (h hooker) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	hook := h.hooks[pod.GetNamespace()]
	if hook == nil {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	adj.AddHooks(&api.Hooks{CreateRuntime: []*api.Hook{{Path: hook.Path, Args: hook.Args}}})
	return adj, nil, nil
}

// TestHookAddedByAnotherPluginIsJudged: the validator is shown the hooks
// another plugin added, which CreateContainer never saw (containerd 2.2
// and newer; before, there is no validator). One whose program lies in a
// snapshot's directory is refused, naming the plugin; a host program runs
// only if [hooks] allowed_programs lists it: one that is not (a wrapper
// that runs its arguments) is refused naming the program and the key, and
// the one listed runs, as the plugin added it.
func TestHookAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/hooked:v1"
	e.image("signed/hooked", "k1")
	dir := t.TempDir()
	listed, wrapper, ran := filepath.Join(dir, "gpu-hook"), filepath.Join(dir, "xyz-wrapper"), filepath.Join(dir, "ran")
	if err := os.WriteFile(listed, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A listed program runs only if no one but root can replace it: the
	// test's files are root's, 0755, in a root-owned 0755 directory.
	for _, p := range []string{dir, listed, wrapper} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	snap := filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots", "1", "fs", "bin", "sh")
	s, err := stub.New(hooker{hooks: map[string]*api.Hook{
		"hooked":        {Path: snap, Args: []string{snap}},
		"hook-listed":   {Path: listed, Args: []string{listed, "prestart"}},
		"hook-unlisted": {Path: wrapper, Args: []string{wrapper, "/some/path"}},
	}}, stub.WithPluginName("hooker"), stub.WithPluginIdx("90"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	e.withConfig(func(c string) string { return c + "\n[hooks]\nallowed_programs = [\"" + listed + "\"]\n" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pod, cfg := e.pod("default")
	id, err := e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	pod, cfg = e.pod("hooked")
	id, err = e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the hook another plugin added was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, "createRuntime hook", `"90-hooker"`, "snapshotter")
	pod, cfg = e.pod("hook-unlisted")
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "createRuntime hook", `"90-hooker"`, wrapper, "[hooks] allowed_programs")
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a refused hook ran")
	}
	pod, cfg = e.pod("hook-listed")
	id, err = e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	e.mustRun(id) // the runtime runs createRuntime hooks as it creates the task
	if b, err := os.ReadFile(ran); err != nil || string(b) != "prestart\n" {
		t.Errorf("the listed hook did not run as the plugin added it: %q %v", b, err)
	}
}
