package k8s_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// Rolling signgate's DaemonSet to a new image leaves the node without
// signgate between the old pod's end and the new one's start. The gate must
// stay closed then: every other container creation is refused, while the
// new signgate pod starts through the bootstrap annotation.
func TestRollingUpdateKeepsTheGateClosed(t *testing.T) {
	need(t)
	next, err := harness.Rebuild(signgate, E.Registry+"/signgate/signgate:next", "next")
	if err != nil {
		t.Fatal(err)
	}
	unsigned := image(t, "roll/unsigned")
	// The probe asks the runtime directly (crictl), as often as it can. The
	// kubelet removes pod sandboxes it does not know of, so the probe's
	// sandbox is made again when that happens.
	var podID, podCfg string
	sandbox := func() {
		t.Helper()
		if podID != "" {
			E.Crictl("rmp", "-f", podID)
		}
		if podID, podCfg, err = E.Pod("default"); err != nil {
			t.Fatal(err)
		}
	}
	sandbox()
	defer func() { E.Crictl("rmp", "-f", podID) }()

	kubectl(t, "-n", "signgate-system", "set", "image", "ds/signgate", "signgate="+next.String())
	// The new pod must also be allowed by the signgate-itself policy: same
	// repository, so it is.
	done := make(chan error, 1)
	go func() {
		out, err := C.Kubectl("-n", "signgate-system", "rollout", "status", "ds/signgate", "--timeout=180s")
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		done <- err
	}()
	tries, absent := 0, 0
	var firstAbsent, lastAbsent time.Time
	for rolled := false; !rolled; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the rollout: %v", err)
			}
			rolled = true
		default:
		}
		tries++
		id, err := E.Create(podID, podCfg, unsigned.Context().Tag("v1").String())
		switch {
		case err == nil:
			t.Fatalf("an unsigned container was created during signgate's rollout (attempt %d): %s", tries, id)
		case strings.Contains(err.Error(), "not present") || strings.Contains(err.Error(), "validator plugin 10-signgate failed"):
			absent++ // NRI's validator: signgate is required and not there
			if firstAbsent.IsZero() {
				firstAbsent = time.Now()
			}
			lastAbsent = time.Now()
		case strings.Contains(err.Error(), "signgate denied image"):
		case strings.Contains(err.Error(), "is not running") || strings.Contains(err.Error(), "not found"):
			sandbox() // the kubelet took the probe's sandbox
		default:
			t.Fatalf("attempt %d refused for another reason: %v", tries, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d creations tried during the rollout, all refused; %d while signgate was absent (over %s)",
		tries, absent, lastAbsent.Sub(firstAbsent).Round(10*time.Millisecond))
	if absent == 0 {
		t.Error("no attempt fell between the old pod and the new one: the test did not see the gap it is about")
	}
	out := kubectl(t, "-n", "signgate-system", "get", "pods", "-l", "app.kubernetes.io/name=signgate", "-o",
		`jsonpath={range .items[*]}{.status.containerStatuses[0].imageID} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if out != next.String()+" True" {
		t.Fatalf("after the rollout, signgate's pods: %q, want %s Ready", out, next)
	}
	signgate = next
}

// A node restarts: nothing runs, and the network agent's config is gone.
// signgate's pod needs no pod network (hostNetwork) and may start without
// signgate (the bootstrap annotation); the network agent, an ordinary
// unannotated pod, starts once signgate gates; then the node is Ready and
// the workloads come back. Had signgate's pod needed the pod network, the
// two would wait on each other for ever.
func TestNodeRebootStartsSigngateBeforeTheNetwork(t *testing.T) {
	need(t)
	signed := image(t, "reboot/app", "k1")
	apply(t, deployment("after-reboot", signed.Context().Tag("v1").String()))
	if out, err := C.Kubectl("rollout", "status", "deployment/after-reboot", "--timeout=120s"); err != nil {
		t.Fatalf("before the reboot: %v: %s", err, out)
	}
	start := time.Now()
	if err := C.Reboot(); err != nil {
		t.Fatal(err)
	}
	// The runtime is the truth here: the API server still shows the pods as
	// they were before the reboot until the kubelet reports again.
	var sg, agent time.Time
	if err := harness.WaitFor(3*time.Minute, func() error {
		var err error
		if sg, err = started("signgate"); err != nil {
			return err
		}
		if agent, err = started("agent"); err != nil {
			return err
		}
		_, err = started("after-reboot")
		return err
	}); err != nil {
		t.Fatalf("after the reboot: %v", err)
	}
	if err := C.WaitNodeReady(time.Minute); err != nil {
		t.Fatalf("after the reboot: %v", err)
	}
	t.Logf("signgate, the network agent and the workload running again %s after the reboot", time.Since(start).Round(time.Second))

	conf, err := os.Stat(filepath.Join(E.CNIConfDir(), "10-lo.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Before(agent) || !sg.Before(conf.ModTime()) {
		t.Fatalf("order after the reboot: signgate started %s, the network agent %s, the network config written %s",
			sg.Format(time.StampMicro), agent.Format(time.StampMicro), conf.ModTime().Format(time.StampMicro))
	}
}

// started is when the one running container named n started, as the
// runtime says (the API server's times are in whole seconds).
func started(n string) (time.Time, error) {
	id, err := E.Crictl("ps", "-q", "--state", "running", "--name", "^"+n+"$")
	if err != nil || id == "" || strings.Contains(id, "\n") {
		return time.Time{}, fmt.Errorf("running containers named %s: %q %v", n, id, err)
	}
	out, err := E.Crictl("inspect", id)
	if err != nil {
		return time.Time{}, fmt.Errorf("crictl inspect %s: %v: %s", id, err, out)
	}
	var v struct {
		Status struct {
			StartedAt time.Time `json:"startedAt"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return time.Time{}, err
	}
	return v.Status.StartedAt, nil
}
