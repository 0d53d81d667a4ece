package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

var E *harness.Env

func TestMain(m *testing.M) {
	bin := os.Getenv("SIGNGATE_TEST_BIN")
	if bin == "" {
		fmt.Println("integration: SIGNGATE_TEST_BIN is not set; run `make test`, which builds containerd, crictl, cosign and signgate")
		os.Exit(m.Run()) // the tests skip themselves
	}
	// SIGNGATE_CONTAINERD: another containerd to test against (make matrix).
	e, err := harness.Start(harness.Options{Bin: bin, Containerd: os.Getenv("SIGNGATE_CONTAINERD"), DropIn: "../packaging/containerd/signgate.toml"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		if e != nil {
			e.Dump()
			e.Stop()
		}
		os.Exit(1)
	}
	E = e
	fmt.Printf("integration: containerd %s (%s)\n", e.Containerd.Version, e.Containerd.Dir)
	code := m.Run()
	if code != 0 {
		e.Dump()
	}
	// A containerd shim left running after the suite is killed and named
	// (harness.Env.Stop); TestTeardownLeavesNoShim is the check.
	e.Stop()
	os.Exit(code)
}

// env wraps the harness with test failures.
type env struct {
	*harness.Env
	t *testing.T
}

func need(t *testing.T) *env {
	t.Helper()
	if E == nil {
		testenv.Skip(t, "SIGNGATE_TEST_BIN is not set")
	}
	return &env{Env: E, t: t}
}

func (e *env) pod(namespace string) (string, string) {
	e.t.Helper()
	id, cfg, err := e.Pod(namespace)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, cfg
}

func (e *env) image(repo string, keys ...string) name.Digest {
	e.t.Helper()
	d, err := e.Image(repo, keys...)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitForMore waits until what appears in out more often than the before
// times it had.
func (e *env) waitForMore(out *harness.LockedBuffer, what string, before int, within time.Duration) {
	e.t.Helper()
	if err := harness.WaitFor(within, func() error {
		if strings.Count(out.String(), what) <= before {
			return fmt.Errorf("no new %q within %s", what, within)
		}
		return nil
	}); err != nil {
		e.t.Fatalf("%v; output:\n%s", err, out.String())
	}
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
	podID, podCfg := e.pod("default")

	t.Run("signed image runs", func(t *testing.T) {
		e.image("signed/app", "k1")
		id, err := e.Create(podID, podCfg, e.Registry+"/signed/app:v1")
		mustAllow(t, id, err)
		(&env{Env: e.Env, t: t}).mustRun(id)
	})
	t.Run("unsigned image is denied", func(t *testing.T) {
		d := e.image("unsigned/app")
		_, err := e.Create(podID, podCfg, e.Registry+"/unsigned/app:v1")
		mustDeny(t, err, "signgate denied image", d.DigestStr(), `policy "apps"`, "no cosign signatures found")
	})
	t.Run("wrong key is denied", func(t *testing.T) {
		e.image("wrongkey/app", "stranger")
		_, err := e.Create(podID, podCfg, e.Registry+"/wrongkey/app:v1")
		mustDeny(t, err, "requires any of k1, cli", "verified by none")
	})
	t.Run("signature copied from another image is denied", func(t *testing.T) {
		src := e.image("copysrc/app", "k1")
		// Sign before the pull: a pull starts a verification at once.
		d, err := harness.PushBusybox(e.Registry+"/copy/app:v1", "sleep", "3600")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Signers["k1"].SignLegacyClaiming(d, src); err != nil {
			t.Fatal(err)
		}
		if err := e.Pull(e.Registry + "/copy/app:v1"); err != nil {
			t.Fatal(err)
		}
		_, err = e.Create(podID, podCfg, e.Registry+"/copy/app:v1")
		mustDeny(t, err, "for another image", src.DigestStr())
	})
	t.Run("tag re-pointed to an unsigned image is denied for the new digest", func(t *testing.T) {
		first := e.image("moved/app", "k1")
		id, err := e.Create(podID, podCfg, e.Registry+"/moved/app:v1")
		mustAllow(t, id, err)
		second := e.image("moved/app") // same tag, unsigned content
		_, err = e.Create(podID, podCfg, e.Registry+"/moved/app:v1")
		mustDeny(t, err, second.DigestStr(), "no cosign signatures found")
		if strings.Contains(err.Error(), first.DigestStr()) {
			t.Fatalf("denial names the old digest: %v", err)
		}
	})
	t.Run("digest reference", func(t *testing.T) {
		d := e.image("bydigest/app", "k1")
		id, err := e.Create(podID, podCfg, d.String())
		mustAllow(t, id, err)
	})
	t.Run("all of two keys", func(t *testing.T) {
		e.image("dual/one", "k1")
		_, err := e.Create(podID, podCfg, e.Registry+"/dual/one:v1")
		mustDeny(t, err, `policy "dual"`, "requires all of k1, k2", "not by k2")
		e.image("dual/both", "k1", "k2")
		id, err := e.Create(podID, podCfg, e.Registry+"/dual/both:v1")
		mustAllow(t, id, err)
	})
	t.Run("two of three keys", func(t *testing.T) {
		e.image("count/one", "k2")
		_, err := e.Create(podID, podCfg, e.Registry+"/count/one:v1")
		mustDeny(t, err, "requires 2 of k1, k2, cli")
		e.image("count/two", "k2", "k1")
		id, err := e.Create(podID, podCfg, e.Registry+"/count/two:v1")
		mustAllow(t, id, err)
	})
	t.Run("audit policy runs and logs the would-be denial", func(t *testing.T) {
		d := e.image("audit/app")
		mark := e.logMark()
		id, err := e.Create(podID, podCfg, e.Registry+"/audit/app:v1")
		mustAllow(t, id, err)
		if err := harness.WaitFor(5*time.Second, func() error {
			if len(e.logLines(mark, "decision=audit", d.DigestStr(), "audit: would deny")) > 0 {
				return nil
			}
			return fmt.Errorf("no audit line for %s", d.DigestStr())
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// The real cosign CLI signs, in both formats, on both registries: Debian's
// distribution 2.8 (no referrers API: cosign writes fallback tags) and
// olareg (the referrers API: bundles are found through it, no tag).
func TestRealCosignCLI(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	for _, reg := range []struct{ name, host string }{{"distribution", e.Registry}, {"referrers-api", e.Referrers}} {
		for _, bundle := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/new-bundle-format=%v", reg.name, bundle), func(t *testing.T) {
				ref := fmt.Sprintf("%s/cli/bundle-%v:v1", reg.host, bundle)
				d, err := harness.PushBusybox(ref, "sleep", "3600")
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Pull(ref); err != nil {
					t.Fatal(err)
				}
				_, err = e.Create(podID, podCfg, ref)
				mustDeny(t, err, "no cosign signatures found")
				out, err := e.Cosign(e.CosignDir, "sign", "--key", "cosign.key", "--yes",
					"--use-signing-config=false", "--tlog-upload=false", fmt.Sprintf("--new-bundle-format=%v", bundle), d.String())
				if err != nil {
					t.Fatalf("cosign sign: %v: %s", err, out)
				}
				referrers, tags, err := harness.Stored(d)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case bundle && reg.host == e.Referrers:
					if len(referrers) != 1 || len(tags) != 0 {
						t.Fatalf("want the bundle as a referrer and no fallback tag; referrers %q, tags %q", referrers, tags)
					}
				case reg.host == e.Registry && referrers != nil:
					t.Fatalf("distribution 2.8 answered the referrers API: %q", referrers)
				case len(tags) != 1:
					t.Fatalf("want the signature under one tag; referrers %q, tags %q", referrers, tags)
				}
				time.Sleep(1100 * time.Millisecond) // the cached denial expires (deny_ttl = 1s)
				id, err := e.Create(podID, podCfg, ref)
				mustAllow(t, id, err)
			})
		}
	}
}

func TestHangingRegistryIsDeniedWithinDeadline(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	// Hang signgate's lookups before the pull, so the verification started
	// by the pull (pre-verification) is still running at create time.
	e.Proxy.Hang("slow/app")
	defer e.Proxy.Hang("")
	e.image("slow/app", "k1")

	start := time.Now()
	_, err := e.Create(podID, podCfg, e.Registry+"/slow/app:v1")
	took := time.Since(start)
	mustDeny(t, err, "still in progress", "retry")
	if took > 2*time.Second {
		t.Errorf("the denial took %v; containerd's NRI timeout is 2s", took)
	}
	// signgate was not dropped by NRI: a trusted image is still admitted
	// straight away, and an unsigned one still refused.
	e.image("afterhang/app", "k1")
	id, err := e.Create(podID, podCfg, e.Registry+"/afterhang/app:v1")
	mustAllow(t, id, err)
	e.image("afterhang/unsigned")
	_, err = e.Create(podID, podCfg, e.Registry+"/afterhang/unsigned:v1")
	mustDeny(t, err, "no cosign signatures found")

	// Once the registry answers, the kubelet's retry is admitted.
	e.Proxy.Hang("")
	if err := harness.WaitFor(15*time.Second, func() error {
		_, err := e.Create(podID, podCfg, e.Registry+"/slow/app:v1")
		return err
	}); err != nil {
		t.Fatalf("retry after the registry recovered: %v", err)
	}
}

// Creations of one image that arrive while its verification is in flight
// wait for that verification instead of starting their own: the registry
// sees one verification's requests, however many creations asked. With
// pre-verification off, so that only creations verify, and the registry
// held so that the verification outlasts decision_deadline: containerd
// serialises NRI calls, so creations overlap a verification only then.
func TestConcurrentCreatesShareVerifications(t *testing.T) {
	e := need(t)
	cfg := strings.Replace(harness.DefaultSigngateConfig(e.Env), `decision_deadline = "1s"`, "decision_deadline = \"1s\"\npreverify = false", 1)
	cfg = strings.Replace(cfg, `verify_timeout = "4s"`, `verify_timeout = "60s"`, 1)
	if !strings.Contains(cfg, "preverify = false") || !strings.Contains(cfg, `verify_timeout = "60s"`) {
		t.Fatal("the suite's config no longer has the lines this test edits")
	}
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.RestartSigngate(harness.DefaultSigngateConfig(e.Env)); err != nil {
			t.Error(err)
		}
	})
	podID, podCfg := e.pod("default")

	// What one verification asks of the registry, alone (after another,
	// so that what signgate asks once per registry is behind it).
	var one []string
	for _, repo := range []string{"conc/first", "conc/alone"} {
		d := e.image(repo, "k1")
		id, err := e.Create(podID, podCfg, d.String())
		mustAllow(t, id, err)
		one = e.Proxy.SigngateRequests(repo)
	}
	if len(one) == 0 {
		t.Fatal("signgate made no request for conc/alone: was it verified ahead of the creation?")
	}

	var imgs []name.Digest
	for i := 0; i < 2; i++ {
		imgs = append(imgs, e.image(fmt.Sprintf("conc/held/app%d", i), "k1"))
	}
	for _, d := range imgs {
		if asked := e.Proxy.SigngateRequests(d.RepositoryStr()); len(asked) != 0 {
			t.Fatalf("%s was looked up before any creation (%q): pre-verification is on", d, asked)
		}
	}
	mark := e.logMark()
	release := e.Proxy.Hold("conc/held")
	defer release()
	const creators = 5
	var wg sync.WaitGroup
	errs := make(chan error, creators*len(imgs))
	for i := 0; i < creators*len(imgs); i++ {
		wg.Add(1)
		go func(d name.Digest) {
			defer wg.Done()
			deadline := time.Now().Add(90 * time.Second)
			for {
				_, err := e.Create(podID, podCfg, d.String())
				if err == nil {
					return
				}
				if !strings.Contains(err.Error(), "still in progress") || time.Now().After(deadline) {
					errs <- err
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}(imgs[i%len(imgs)])
	}
	// uncached counts the decisions on d that found no verdict and so
	// waited on a verification: one leads it, the others share it.
	uncached := func(d name.Digest) int {
		return len(e.logLines(mark, `msg="signgate `, "digest="+d.DigestStr(), "cached=false"))
	}
	// Hold the registry until every image has been asked for at least
	// twice while its verification was in flight.
	if err := harness.WaitFor(60*time.Second, func() error {
		for _, d := range imgs {
			if n := uncached(d); n < 2 {
				return fmt.Errorf("%s: %d creations found its verification in flight", d.DigestStr(), n)
			}
		}
		return nil
	}); err != nil {
		release()
		t.Fatalf("%v\n%s", err, e.logSince(mark))
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, d := range imgs {
		n := len(e.waitLogLines(mark, `msg="verification finished"`, d.DigestStr()))
		asked := e.Proxy.SigngateRequests(d.RepositoryStr())
		t.Logf("%s: %d decisions waited on a verification, %d verification(s), registry requests %q (one verification alone: %q)", d.RepositoryStr(), uncached(d), n, asked, one)
		if n != 1 {
			t.Errorf("%s was verified %d times, want once", d.DigestStr(), n)
		}
		if len(asked) != len(one) {
			t.Errorf("the registry saw %d requests for %s; one verification makes %d", len(asked), d.RepositoryStr(), len(one))
		}
	}
}

func TestImageIDReference(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	for _, c := range []struct {
		repo  string
		keys  []string
		allow bool
	}{{"byid/signed", []string{"k1"}, true}, {"byid/unsigned", nil, false}} {
		d := e.image(c.repo, c.keys...)
		id, err := e.Crictl("inspecti", "-o", "go-template", "--template", "{{.status.id}}", e.Registry+"/"+c.repo+":v1")
		if err != nil || !strings.HasPrefix(id, "sha256:") {
			t.Fatalf("image ID of %s: %q %v", c.repo, id, err)
		}
		// The kubelet names images by ID: signgate finds the repository and
		// the manifest digest behind it in containerd's store.
		ctr, err := e.Create(pod, cfg, id)
		if c.allow {
			mustAllow(t, ctr, err)
		} else {
			mustDeny(t, err, d.DigestStr(), "no cosign signatures found")
		}
	}
}

// A CRI client chooses the image-name annotation (user_specified_image): it
// may name a signed image while asking for an unsigned one by ID. signgate
// binds the verdict to the container's root filesystem instead.
func TestAnnotationNamingAnotherImageIsDenied(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("spoof/signed", "k1")
	e.image("spoof/unsigned")
	id, err := e.Crictl("inspecti", "-o", "go-template", "--template", "{{.status.id}}", e.Registry+"/spoof/unsigned:v1")
	if err != nil {
		t.Fatal(err)
	}
	c := fmt.Sprintf(`{"metadata":{"name":"spoof"},"image":{"image":%q,"user_specified_image":%q},"log_path":"spoof.log"}`,
		strings.TrimSpace(id), e.Registry+"/spoof/signed:v1")
	p := filepath.Join(e.Dir, "spoof.json")
	if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.Crictl("create", pod, p, cfg)
	if err == nil {
		t.Fatalf("a container of an unsigned image was created under a signed image's name: %s", out)
	}
	if !e.Containerd.HonorsUserSpecifiedImage() {
		// 1.7 ignores the client's name and names what it runs: the
		// unsigned image, denied as such.
		mustDeny(t, fmt.Errorf("%s", out), "signgate denied image "+e.Registry+"/spoof/unsigned:v1", "no cosign signatures found")
		return
	}
	if e.Containerd.FillsContainerImage() {
		// 2.4 reports the image it runs (NRI's Container.Image), and it
		// disagrees with the name: denied before the layers are compared.
		mustDeny(t, fmt.Errorf("%s", out), "the runtime reports the container's image as "+e.Registry+"/spoof/unsigned:v1",
			"its image store resolves "+e.Registry+"/spoof/signed:v1 to "+e.Registry+"/spoof/signed@sha256:")
		return
	}
	mustDeny(t, fmt.Errorf("%s", out), "is not built from", "the image it names is not the image it runs")
}

func TestVerifyCommand(t *testing.T) {
	e := need(t)
	signed := e.image("cli/verify-signed", "k1")
	unsigned := e.image("cli/verify-unsigned")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(e.Bin, "signgate"), append([]string{"verify", "--config", filepath.Join(e.Dir, "signgate.toml")}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	// By tag: resolved to the digest it names now.
	out, code := run(e.Registry + "/cli/verify-signed:v1")
	if code != 0 || !strings.Contains(out, "ALLOW") || !strings.Contains(out, signed.DigestStr()) || !strings.Contains(out, "verified by k1") {
		t.Errorf("signed: exit %d\n%s", code, out)
	}
	out, code = run("--output", "json", unsigned.String())
	type result struct {
		Schema  string `json:"schema"`
		Allowed bool   `json:"allowed"`
		Cause   string `json:"cause"`
		Digest  string `json:"digest"`
		Policy  string `json:"policy"`
		Reason  string `json:"reason"`
		Error   string `json:"error"`
	}
	var v result
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if code != 1 || v.Allowed || v.Digest != unsigned.DigestStr() || v.Policy != "apps" || v.Cause != "no_signatures" || v.Schema != "signgate.dev/verify/v1" || !strings.Contains(v.Reason, "no cosign signatures found") {
		t.Errorf("unsigned: exit %d %+v", code, v)
	}
	// Every outcome prints JSON: a tag that does not exist, a broken config.
	out, code = run("--output", "json", e.Registry+"/cli/verify-signed:nosuchtag")
	v = result{}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.Cause != "image_unknown" || !strings.Contains(v.Reason, "cannot resolve to a digest") {
		t.Errorf("missing tag: exit %d, %v, %+v\n%s", code, err, v, out)
	}
	bad := filepath.Join(e.Dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[daemon]\nnri_sokcet = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(e.Bin, "signgate"), "verify", "--config", bad, signed.String())
	o, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(o), "bad.toml") || !strings.Contains(string(o), "daemon.nri_sokcet") {
		t.Errorf("bad config: %v\n%s", err, o)
	}
	o, err = exec.Command(filepath.Join(e.Bin, "signgate"), "verify", "--output", "json", "--config", bad, signed.String()).Output()
	v = result{}
	if jerr := json.Unmarshal(o, &v); jerr != nil || v.Schema != "signgate.dev/verify/v1" || !strings.Contains(v.Error, "daemon.nri_sokcet") {
		t.Errorf("bad config, json: %v %v\n%s", err, jerr, o)
	}
}

func TestNamespaceScopedPolicy(t *testing.T) {
	e := need(t)
	e.image("system/agent")
	sysPod, sysCfg := e.pod("kube-system")
	id, err := e.Create(sysPod, sysCfg, e.Registry+"/system/agent:v1")
	mustAllow(t, id, err)
	// The same image in another namespace falls through to "apps".
	pod, cfg := e.pod("default")
	_, err = e.Create(pod, cfg, e.Registry+"/system/agent:v1")
	mustDeny(t, err, `policy "apps"`)
}

func TestSystemdNotify(t *testing.T) {
	e := need(t)
	// READY=1 went out once signgate was connected to NRI.
	if !strings.Contains(e.Notifications.String(), "READY=1") {
		t.Fatalf("no READY=1; got %q", e.Notifications.String())
	}
	before := strings.Count(e.Notifications.String(), "RELOADING=1")
	if ok, err := e.ReloadSigngate(e.SigngateConfig()); !ok || err != nil {
		t.Fatalf("reload: %v %v", ok, err)
	}
	e.waitForMore(e.Notifications, "RELOADING=1", before, 5*time.Second)
}

func TestMetricsAndHealth(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("metrics/signed", "k1")
	e.image("metrics/unsigned")
	id, err := e.Create(pod, cfg, e.Registry+"/metrics/signed:v1")
	mustAllow(t, id, err)
	_, err = e.Create(pod, cfg, e.Registry+"/metrics/unsigned:v1")
	mustDeny(t, err, "no cosign signatures")

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + e.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	_, m := get("/metrics")
	for _, want := range []string{
		`signgate_decisions_total{decision="allow",policy="apps",source="runtime"}`,
		`signgate_decisions_total{decision="deny",policy="apps",source="runtime"}`,
		`signgate_verifications_total{result="verified"}`,
		`signgate_verifications_total{result="rejected"}`,
		`signgate_verdict_cache_total{result="hit"}`,
		"signgate_verification_duration_seconds_bucket",
		"signgate_nri_connected 1",
		"signgate_keystore_keys 3",
		"signgate_verifications_in_flight",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "healthcheck", "--socket", "", "--address", e.MetricsAddr).CombinedOutput()
	if err != nil {
		t.Fatalf("signgate healthcheck: %v %s", err, out)
	}
}

func TestReload(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("reload/app", "k1")
	id, err := e.Create(pod, cfg, e.Registry+"/reload/app:v1")
	mustAllow(t, id, err)

	good := e.SigngateConfig()
	defer func() {
		if ok, err := e.ReloadSigngate(good); !ok || err != nil {
			t.Errorf("restoring the config: %v %v", ok, err)
		}
	}()

	// A broken config is refused; the old one stays in force.
	broken := strings.Replace(good, `keys = ["k1", "cli"]`, `keys = ["k1", "nosuchkey"]`, 1)
	mark := e.logMark()
	if ok, err := e.ReloadSigngate(broken); ok || err != nil {
		t.Fatalf("a config naming an undefined key was accepted (ok=%v, err=%v)", ok, err)
	}
	if !strings.Contains(e.logSince(mark), `key \"nosuchkey\" is not defined`) {
		t.Error("the refusal does not say what is wrong")
	}
	id, err = e.Create(pod, cfg, e.Registry+"/reload/app:v1")
	mustAllow(t, id, err)

	// A new policy requiring k2: the allow cached under the old policy is
	// not reused.
	stricter := strings.Replace(good, `keys = ["k1", "cli"]`, `keys = ["k2"]`, 1)
	if ok, err := e.ReloadSigngate(stricter); !ok || err != nil {
		t.Fatalf("a valid config was not taken (ok=%v, err=%v)", ok, err)
	}
	_, err = e.Create(pod, cfg, e.Registry+"/reload/app:v1")
	mustDeny(t, err, "requires any of k2")
}

func TestZYContainerdRestart(t *testing.T) {
	e := need(t)
	before := strings.Count(e.SigngateLog.String(), "connected to NRI")
	if err := e.RestartContainerd(); err != nil {
		t.Fatal(err)
	}
	e.waitForMore(e.SigngateLog, "connected to NRI", before, 15*time.Second)
	pod, cfg := e.pod("default")
	e.image("restart/app", "k1")
	id, err := e.Create(pod, cfg, e.Registry+"/restart/app:v1")
	mustAllow(t, id, err)
	e.image("restart/unsigned")
	_, err = e.Create(pod, cfg, e.Registry+"/restart/unsigned:v1")
	mustDeny(t, err, "no cosign signatures found")
}

// This test kills signgate and starts it again; tests after it (in file
// order) run against the restarted one.
func TestZZFailClosedWithoutSigngate(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	e.image("failclosed/app", "k1")
	e.image("failclosed/unsigned")

	e.KillSigngate()
	t.Cleanup(func() {
		if t.Failed() { // so that the tests after this one still have a gate
			e.KillSigngate()
			_ = e.StartSigngate()
		}
	})
	if !e.Containerd.HasValidator() {
		// containerd before 2.2 has no NRI validator: with signgate gone,
		// even an unsigned image runs. The README's table says so; this
		// keeps it true.
		if err := harness.WaitFor(5*time.Second, func() error {
			_, err := e.Create(podID, podCfg, e.Registry+"/failclosed/unsigned:v1")
			return err
		}); err != nil {
			t.Fatalf("containerd %s without signgate: the documented fail-open did not happen: %v", e.Containerd.Version, err)
		}
	} else {
		// The first request may still find signgate listed: it is refused
		// because signgate is also a validator, and a validator that fails
		// fails the creation (see nri.Plugin.Configure).
		_, err := e.Create(podID, podCfg, e.Registry+"/failclosed/app:v1")
		if err == nil || !(strings.Contains(err.Error(), "validator plugin 10-signgate failed") || strings.Contains(err.Error(), `required plugin \"signgate\" not present`)) {
			t.Fatalf("first create without signgate: %v", err)
		}
		// By then containerd has dropped the plugin; the default validator
		// refuses because a required plugin is absent.
		_, err = e.Create(podID, podCfg, e.Registry+"/failclosed/app:v1")
		mustDeny(t, err, `required plugin "signgate" not present`)
	}

	// Restarted, signgate registers again without restarting containerd.
	if err := e.StartSigngate(); err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitFor(10*time.Second, func() error {
		_, err := e.Create(podID, podCfg, e.Registry+"/failclosed/app:v1")
		return err
	}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	_, err := e.Create(podID, podCfg, e.Registry+"/failclosed/unsigned:v1")
	mustDeny(t, err, "signgate denied image")
}

// Keyless: an image signed by the release workflow's identity (a Fulcio
// certificate, a Rekor entry and a timestamp from an in-memory Sigstore)
// runs; one signed by another repository's workflow is denied, with both
// identities named. Both storage forms, on both registries.
func TestKeylessThroughContainerd(t *testing.T) {
	e := need(t)
	const (
		issuer  = "https://token.actions.githubusercontent.com"
		release = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
		evil    = "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"
	)
	for _, reg := range []string{e.Registry, e.Referrers} {
		for _, format := range []string{"bundle", "legacy"} {
			t.Run(reg+"/"+format, func(t *testing.T) {
				sign := e.Sigstore.SignKeyless
				if format == "legacy" {
					sign = e.Sigstore.SignKeylessLegacy
				}
				pod, cfg := e.pod("default")
				for _, c := range []struct{ who, repo string }{{release, "good"}, {evil, "bad"}} {
					ref := fmt.Sprintf("%s/keyless/%s-%s:v1", reg, c.repo, format)
					d, err := harness.PushBusybox(ref, "sleep", "3600")
					if err != nil {
						t.Fatal(err)
					}
					if err := sign(d, c.who, issuer, sigtest.KeylessOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := e.Pull(ref); err != nil {
						t.Fatal(err)
					}
					// The real cosign CLI, offline against the same trusted
					// root, agrees (the in-memory Sigstore has no CT log).
					out, cliErr := e.Cosign(e.Dir, "verify", "--certificate-identity-regexp", `^https://github\.com/org/app/\.github/workflows/release\.yml@refs/(heads|tags)/.+$`,
						"--certificate-oidc-issuer", issuer, "--trusted-root", filepath.Join(e.Dir, "keys", "trusted_root.json"), "--insecure-ignore-sct", d.String())
					if (cliErr == nil) != (c.who == release) {
						t.Errorf("cosign verify on %s's signature: %v\n%s", c.who, cliErr, out)
					}
					_, err = e.Create(pod, cfg, ref)
					if c.who == release && err != nil {
						t.Fatalf("the release workflow's image was refused: %v", err)
					}
					if c.who == evil && (err == nil || !strings.Contains(err.Error(), "signed by "+evil) || !strings.Contains(err.Error(), `github\\.com/org/app`)) {
						t.Fatalf("another identity's image: %v", err)
					}
				}
			})
		}
	}
}
