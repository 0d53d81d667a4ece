package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// decisionFor is the decision log's line for container id, read from
// signgate's log; it fails the test when there is none. signgate writes it
// before it answers, but its stderr reaches the buffer through a pipe and a
// copying goroutine, so it may trail crictl's return.
func decisionFor(t *testing.T, e *harness.Env, id string) string {
	t.Helper()
	var found string
	if err := harness.WaitFor(10*time.Second, func() error {
		for _, l := range strings.Split(e.SigngateLog.String(), "\n") {
			if strings.Contains(l, "container_id="+id) {
				found = l
			}
		}
		if found == "" {
			return fmt.Errorf("no decision logged for container %s", id)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v:\n%s", err, e.SigngateLog.String())
	}
	return found
}

func runtimeAnnotations(t *testing.T, e *harness.Env, id string) map[string]string {
	t.Helper()
	out, err := e.Crictl("inspect", id)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Info struct {
			RuntimeSpec struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"runtimeSpec"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	return info.Info.RuntimeSpec.Annotations
}

// Issue 29, item 7: by default signgate adjusts nothing (containerd
// applying an adjustment costs a creation more than all of signgate's own
// handling), and the decision log is the record of what verified each
// container, by container ID; annotate = true adds the annotations.
func TestAnnotationsAreOptIn(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	d := e.image("annotate/default", "k1")
	id, err := e.Create(pod, cfg, e.Registry+"/annotate/default:v1")
	mustAllow(t, id, err)
	for k := range runtimeAnnotations(t, e.Env, id) {
		if strings.HasPrefix(k, "signgate.dev/") {
			t.Fatalf("annotation %s on a container under the default config", k)
		}
	}
	line := decisionFor(t, e.Env, id)
	for _, want := range []string{"decision=allow", "policy=apps", "digest=" + d.DigestStr(), `verified_by="cosign: k1"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("the decision for %s lacks %s: %s", id, want, line)
		}
	}

	on := startOwn(t, harness.Options{DropIn: "../packaging/containerd/signgate.toml", SigngateConfig: func(e *harness.Env) string {
		return strings.Replace(harness.DefaultSigngateConfig(e), "[daemon]\n", "[daemon]\nannotate = true\n", 1)
	}})
	d, err = on.Image("annotate/on", "k1")
	if err != nil {
		t.Fatal(err)
	}
	pod, cfg, err = on.Pod("default")
	if err != nil {
		t.Fatal(err)
	}
	id, err = on.Create(pod, cfg, on.Registry+"/annotate/on:v1")
	mustAllow(t, id, err)
	ann := runtimeAnnotations(t, on, id)
	if ann["signgate.dev/policy"] != "apps" || ann["signgate.dev/digest"] != d.DigestStr() || ann["signgate.dev/decision"] != "verified" || ann["signgate.dev/verified-by"] != "cosign: k1" {
		t.Fatalf("annotate = true: the container's annotations %v", ann)
	}
}
