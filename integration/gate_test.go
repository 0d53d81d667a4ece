package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/sigtest"
)

var signers = map[string]*sigtest.Signer{}

func writeKeys(e *env) error {
	if err := os.MkdirAll(filepath.Join(e.dir, "keys"), 0o755); err != nil {
		return err
	}
	for _, n := range []string{"k1", "k2", "stranger"} {
		s, err := sigtest.NewSigner()
		if err != nil {
			return err
		}
		signers[n] = s
		if err := os.WriteFile(filepath.Join(e.dir, "keys", n+".pub"), []byte(s.PublicPEM()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var podSeq, ctrSeq atomic.Int64

// pod starts a host-network pod sandbox and returns its ID and config file.
func (e *env) pod(t *testing.T, namespace string) (string, string) {
	t.Helper()
	n := podSeq.Add(1)
	cfg := map[string]any{
		"metadata":      map[string]any{"name": fmt.Sprintf("pod%d", n), "namespace": namespace, "uid": fmt.Sprintf("uid-%d", n)},
		"log_directory": filepath.Join(e.dir, "logs", fmt.Sprint(n)),
		"linux":         map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}},
	}
	p := filepath.Join(e.dir, fmt.Sprintf("pod%d.json", n))
	writeJSON(t, p, cfg)
	out, err := e.crictl("runp", p)
	if err != nil {
		t.Fatalf("crictl runp: %v: %s", err, out)
	}
	return lastLine(out), p
}

// create asks containerd, through the CRI, to create a container of image in
// the pod; it returns the container ID or crictl's error output.
func (e *env) create(t *testing.T, podID, podCfg, image string) (string, error) {
	t.Helper()
	n := ctrSeq.Add(1)
	cfg := map[string]any{
		"metadata": map[string]any{"name": fmt.Sprintf("c%d", n)},
		"image":    map[string]any{"image": image},
		"log_path": fmt.Sprintf("c%d.log", n),
	}
	p := filepath.Join(e.dir, fmt.Sprintf("ctr%d.json", n))
	writeJSON(t, p, cfg)
	out, err := e.crictl("create", podID, p, podCfg)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return lastLine(out), nil
}

func (e *env) pull(t *testing.T, image string) {
	t.Helper()
	if out, err := e.crictl("pull", image); err != nil {
		t.Fatalf("crictl pull %s: %v: %s", image, err, out)
	}
}

// image pushes a fresh busybox image to repo:tag, signs it with the named
// library keys (legacy and bundle formats alternating) and pulls it into
// containerd.
func (e *env) image(t *testing.T, repo string, keys ...string) name.Digest {
	t.Helper()
	d, err := pushBusybox(e.regHost+"/"+repo+":v1", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if i%2 == 0 {
			err = signers[k].SignLegacy(d)
		} else {
			err = signers[k].SignBundle(d)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	e.pull(t, e.regHost+"/"+repo+":v1")
	return d
}

func writeJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func mustAllow(t *testing.T, id string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("container was refused: %v", err)
	}
	if id == "" {
		t.Fatal("no container ID")
	}
}

func mustDeny(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("container was created; want it refused")
	}
	// crictl quotes the runtime's message, escaping its quotes.
	msg := strings.ReplaceAll(err.Error(), `\`, "")
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Fatalf("refusal %q does not mention %q", err, p)
		}
	}
}

func TestGate(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod(t, "default")

	t.Run("signed image runs", func(t *testing.T) {
		e.image(t, "signed/app", "k1")
		id, err := e.create(t, podID, podCfg, e.regHost+"/signed/app:v1")
		mustAllow(t, id, err)
		if out, err := e.crictl("start", id); err != nil {
			t.Fatalf("start: %v %s", err, out)
		}
		if err := waitFor(10*time.Second, func() error {
			out, err := e.crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
			if err != nil || !strings.Contains(out, "CONTAINER_RUNNING") {
				return fmt.Errorf("state %q %v", out, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unsigned image is denied", func(t *testing.T) {
		d := e.image(t, "unsigned/app")
		_, err := e.create(t, podID, podCfg, e.regHost+"/unsigned/app:v1")
		mustDeny(t, err, "signgate denied image", d.DigestStr(), `policy "apps"`, "no cosign signatures found")
	})
	t.Run("wrong key is denied", func(t *testing.T) {
		e.image(t, "wrongkey/app", "stranger")
		_, err := e.create(t, podID, podCfg, e.regHost+"/wrongkey/app:v1")
		mustDeny(t, err, "requires any of k1, cli", "verified by none")
	})
	t.Run("signature copied from another image is denied", func(t *testing.T) {
		src := e.image(t, "copysrc/app", "k1")
		d := e.image(t, "copy/app")
		if err := signers["k1"].SignLegacyClaiming(d, src); err != nil {
			t.Fatal(err)
		}
		_, err := e.create(t, podID, podCfg, e.regHost+"/copy/app:v1")
		mustDeny(t, err, "for another image", src.DigestStr())
	})
	t.Run("tag re-pointed to an unsigned image is denied for the new digest", func(t *testing.T) {
		first := e.image(t, "moved/app", "k1")
		id, err := e.create(t, podID, podCfg, e.regHost+"/moved/app:v1")
		mustAllow(t, id, err)
		second := e.image(t, "moved/app") // same tag, unsigned content
		_, err = e.create(t, podID, podCfg, e.regHost+"/moved/app:v1")
		mustDeny(t, err, second.DigestStr(), "no cosign signatures found")
		if strings.Contains(err.Error(), first.DigestStr()) {
			t.Fatalf("denial names the old digest: %v", err)
		}
	})
	t.Run("digest reference", func(t *testing.T) {
		d := e.image(t, "bydigest/app", "k1")
		id, err := e.create(t, podID, podCfg, d.String())
		mustAllow(t, id, err)
	})
	t.Run("all of two keys", func(t *testing.T) {
		e.image(t, "dual/one", "k1")
		_, err := e.create(t, podID, podCfg, e.regHost+"/dual/one:v1")
		mustDeny(t, err, `policy "dual"`, "requires all of k1, k2", "not by k2")
		e.image(t, "dual/both", "k1", "k2")
		id, err := e.create(t, podID, podCfg, e.regHost+"/dual/both:v1")
		mustAllow(t, id, err)
	})
	t.Run("two of three keys", func(t *testing.T) {
		e.image(t, "count/one", "k2")
		_, err := e.create(t, podID, podCfg, e.regHost+"/count/one:v1")
		mustDeny(t, err, "requires 2 of k1, k2, cli")
		e.image(t, "count/two", "k2", "k1")
		id, err := e.create(t, podID, podCfg, e.regHost+"/count/two:v1")
		mustAllow(t, id, err)
	})
	t.Run("audit policy runs and logs the would-be denial", func(t *testing.T) {
		d := e.image(t, "audit/app")
		id, err := e.create(t, podID, podCfg, e.regHost+"/audit/app:v1")
		mustAllow(t, id, err)
		if err := waitFor(5*time.Second, func() error {
			for _, l := range strings.Split(e.sgLog.String(), "\n") {
				if strings.Contains(l, "decision=audit") && strings.Contains(l, d.DigestStr()) && strings.Contains(l, "audit: would deny") {
					return nil
				}
			}
			return fmt.Errorf("no audit line for %s", d.DigestStr())
		}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRealCosignCLI(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod(t, "default")
	for _, bundle := range []bool{true, false} {
		t.Run(fmt.Sprintf("new-bundle-format=%v", bundle), func(t *testing.T) {
			repo := fmt.Sprintf("cli/bundle-%v", bundle)
			d := e.image(t, repo)
			_, err := e.create(t, podID, podCfg, e.regHost+"/"+repo+":v1")
			mustDeny(t, err, "no cosign signatures found")
			out, err := e.cosign(e.cosignKy, "sign", "--key", "cosign.key", "--yes",
				"--use-signing-config=false", "--tlog-upload=false", fmt.Sprintf("--new-bundle-format=%v", bundle), d.String())
			if err != nil {
				t.Fatalf("cosign sign: %v: %s", err, out)
			}
			time.Sleep(1100 * time.Millisecond) // the cached denial expires (deny_ttl = 1s)
			id, err := e.create(t, podID, podCfg, e.regHost+"/"+repo+":v1")
			mustAllow(t, id, err)
		})
	}
}

func TestHangingRegistryIsDeniedWithinDeadline(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod(t, "default")
	e.image(t, "slow/app", "k1")
	e.proxy.hangRepo("slow/app")
	defer e.proxy.hangRepo("")

	start := time.Now()
	_, err := e.create(t, podID, podCfg, e.regHost+"/slow/app:v1")
	took := time.Since(start)
	mustDeny(t, err, "still in progress", "retry")
	if took > 2*time.Second {
		t.Errorf("the denial took %v; containerd's NRI timeout is 2s", took)
	}
	// signgate was not dropped by NRI: a trusted image is still admitted
	// straight away, and an unsigned one still refused.
	e.image(t, "afterhang/app", "k1")
	id, err := e.create(t, podID, podCfg, e.regHost+"/afterhang/app:v1")
	mustAllow(t, id, err)
	e.image(t, "afterhang/unsigned")
	_, err = e.create(t, podID, podCfg, e.regHost+"/afterhang/unsigned:v1")
	mustDeny(t, err, "no cosign signatures found")

	// Once the registry answers, the kubelet's retry is admitted.
	e.proxy.hangRepo("")
	if err := waitFor(15*time.Second, func() error {
		_, err := e.create(t, podID, podCfg, e.regHost+"/slow/app:v1")
		return err
	}); err != nil {
		t.Fatalf("retry after the registry recovered: %v", err)
	}
}

func TestConcurrentCreatesShareVerifications(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod(t, "default")
	var imgs []name.Digest
	for i := 0; i < 5; i++ {
		imgs = append(imgs, e.image(t, fmt.Sprintf("conc/app%d", i), "k1"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := e.create(t, podID, podCfg, fmt.Sprintf("%s/conc/app%d:v1", e.regHost, i%5)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	log := e.sgLog.String()
	for _, d := range imgs {
		n := len(regexp.MustCompile(`msg="verification finished"[^\n]*`+regexp.QuoteMeta(d.DigestStr())).FindAllString(log, -1))
		if n != 1 {
			t.Errorf("%s was verified %d times, want once", d.DigestStr(), n)
		}
	}
}

// This test kills signgate, so it runs last (Go runs tests in file order,
// and this file's tests after env_test.go's none).
func TestZZFailClosedWithoutSigngate(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod(t, "default")
	e.image(t, "failclosed/app", "k1")

	e.killSigngate()
	// The first request may still find signgate listed: it is refused
	// because signgate is also a validator, and a validator that fails
	// fails the creation (see nri.Plugin.Configure).
	_, err := e.create(t, podID, podCfg, e.regHost+"/failclosed/app:v1")
	if err == nil || !(strings.Contains(err.Error(), "validator plugin 10-signgate failed") || strings.Contains(err.Error(), `required plugin \"signgate\" not present`)) {
		t.Fatalf("first create without signgate: %v", err)
	}
	// By then containerd has dropped the plugin; the default validator
	// refuses because a required plugin is absent.
	_, err = e.create(t, podID, podCfg, e.regHost+"/failclosed/app:v1")
	mustDeny(t, err, `required plugin "signgate" not present`)

	// Restarted, signgate registers again without restarting containerd.
	if err := e.startSigngate(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(10*time.Second, func() error {
		_, err := e.create(t, podID, podCfg, e.regHost+"/failclosed/app:v1")
		return err
	}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	e.image(t, "failclosed/unsigned")
	_, err = e.create(t, podID, podCfg, e.regHost+"/failclosed/unsigned:v1")
	mustDeny(t, err, "signgate denied image")
}
