package credprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePlugin writes an executable plugin into a bin dir: it saves its
// stdin, args and the environment variable FAKE_SEEN, counts its runs, and
// answers with the contents of answer.json (or sleeps, or fails).
type fakePlugin struct {
	dir, bin string
}

func newFakePlugin(t *testing.T, name string) *fakePlugin {
	t.Helper()
	dir := t.TempDir()
	f := &fakePlugin{dir: dir, bin: filepath.Join(dir, "bin")}
	if err := os.Mkdir(f.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
d=` + dir + `
cat > "$d/stdin"
echo "$@" > "$d/args"
echo "$FAKE_SEEN" > "$d/env"
echo run >> "$d/runs"
[ -f "$d/sleep" ] && sleep "$(cat "$d/sleep")"
[ -f "$d/fail" ] && { echo "no credentials for you; token=stderr-s3cr3t" >&2; exit 3; }
[ -f "$d/printenv" ] && env > "$d/environ"
cat "$d/answer.json"
`
	if err := os.WriteFile(filepath.Join(f.bin, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakePlugin) answer(t *testing.T, keyType string, duration *string, auth map[string]Credential) {
	t.Helper()
	data, err := json.Marshal(response{Kind: "CredentialProviderResponse", APIVersion: "credentialprovider.kubelet.k8s.io/v1",
		CacheKeyType: keyType, CacheDuration: duration, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "answer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakePlugin) set(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakePlugin) read(t *testing.T, file string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(f.dir, file))
	return string(b)
}

func (f *fakePlugin) runs(t *testing.T) int {
	return strings.Count(f.read(t, "runs"), "run")
}

func (f *fakePlugin) config(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(f.dir, "credential-provider.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const oneProvider = `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: fake
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["*.registry.io", "other.example:5000/team"]
    defaultCacheDuration: 1m
    args: [get-credentials, --verbose]
    env:
      - name: FAKE_SEEN
        value: from-config
`

func load(t *testing.T, f *fakePlugin, cfg string) (*Providers, *time.Time) {
	t.Helper()
	ps, err := Load(Settings{Config: f.config(t, cfg), BinDir: f.bin, ExecTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps.now = func() time.Time { return now }
	return ps, &now
}

func dur(s string) *string { return &s }

// The plugin gets the request on stdin, the config's args, and the
// config's env over the daemon's; its answer's credential is the one for
// the image.
func TestProviderRunsAsTheKubeletRunsIt(t *testing.T) {
	t.Setenv("FAKE_SEEN", "from-daemon")
	f := newFakePlugin(t, "fake")
	f.answer(t, cacheRegistry, nil, map[string]Credential{"*.registry.io": {Username: "u", Password: "p"}})
	ps, _ := load(t, f, oneProvider)
	c, from, ok, err := ps.Lookup(context.Background(), "a.registry.io/team/app")
	if err != nil || !ok || from != "fake" || c != (Credential{"u", "p"}) {
		t.Fatalf("Lookup = %+v, %q, %v, %v", c, from, ok, err)
	}
	var req map[string]any
	if err := json.Unmarshal([]byte(f.read(t, "stdin")), &req); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"kind": "CredentialProviderRequest", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "image": "a.registry.io/team/app"}
	for k, v := range want {
		if req[k] != v {
			t.Errorf("request %s = %v, want %v", k, req[k], v)
		}
	}
	if _, ok := req["serviceAccountToken"]; ok {
		t.Error("request carries a service account token")
	}
	if got := strings.TrimSpace(f.read(t, "args")); got != "get-credentials --verbose" {
		t.Errorf("args %q", got)
	}
	if got := strings.TrimSpace(f.read(t, "env")); got != "from-config" {
		t.Errorf("FAKE_SEEN = %q, want the config's value over the daemon's", got)
	}
	// An image no matchImages entry matches never runs the plugin.
	if _, _, ok, err := ps.Lookup(context.Background(), "registry.io/app"); ok || err != nil {
		t.Errorf("registry.io/app: %v, %v", ok, err)
	}
	if _, _, ok, err := ps.Lookup(context.Background(), "other.example:5000/elsewhere/app"); ok || err != nil {
		t.Errorf("other.example:5000/elsewhere/app: %v, %v", ok, err)
	}
	if n := f.runs(t); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// Answers are cached under the key their cacheKeyType names, for their
// cacheDuration or else the provider's defaultCacheDuration; 0 is never.
func TestProviderCachesAsTheKubelet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		keyType  string
		duration *string
		// runs after: the same image, another image of the registry,
		// another registry, the same image after 30s, after 61s.
		runs [5]int
	}{
		{"image", cacheImage, nil, [5]int{1, 2, 3, 3, 4}},
		{"registry", cacheRegistry, nil, [5]int{1, 1, 2, 2, 3}},
		{"global", cacheGlobal, nil, [5]int{1, 1, 1, 1, 2}},
		{"registry for 10s", cacheRegistry, dur("10s"), [5]int{1, 1, 2, 3, 4}},
		{"not cached", cacheGlobal, dur("0s"), [5]int{2, 3, 4, 5, 6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePlugin(t, "fake")
			f.answer(t, c.keyType, c.duration, map[string]Credential{"*.registry.io": {Username: "u", Password: "p"}})
			ps, now := load(t, f, oneProvider)
			ctx := context.Background()
			lookup := func(image string) {
				t.Helper()
				if _, _, ok, err := ps.Lookup(ctx, image); !ok || err != nil {
					t.Fatalf("%s: %v, %v", image, ok, err)
				}
			}
			lookup("a.registry.io/app")
			var got [5]int
			lookup("a.registry.io/app")
			got[0] = f.runs(t)
			lookup("a.registry.io/other")
			got[1] = f.runs(t)
			lookup("b.registry.io/app")
			got[2] = f.runs(t)
			*now = now.Add(30 * time.Second)
			lookup("a.registry.io/app")
			got[3] = f.runs(t)
			*now = now.Add(31 * time.Second)
			lookup("a.registry.io/app")
			got[4] = f.runs(t)
			if got != c.runs {
				t.Errorf("runs %v, want %v", got, c.runs)
			}
		})
	}
}

// A plugin that fails or hangs is named, with its exit status; neither
// its stdout, which would hold credentials, nor its stderr, which may, is
// ever quoted (the error reaches the CRI denial message tenants read).
func TestProviderErrorsNameIt(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	f.set(t, "fail", "")
	ps, _ := load(t, f, oneProvider)
	var logged bytes.Buffer
	ps.log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, _, ok, err := ps.Lookup(context.Background(), "a.registry.io/app")
	if !strings.Contains(logged.String(), "level=DEBUG") || !strings.Contains(logged.String(), "no credentials for you") {
		t.Errorf("the debug log lacks the plugin's stderr: %s", logged.String())
	}
	if ok || err == nil || !strings.Contains(err.Error(), "credential provider fake for a.registry.io/app") || !strings.Contains(err.Error(), "exit status 3") ||
		strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "no credentials for you") {
		t.Errorf("failing plugin: %v, %v", ok, err)
	}

	g := newFakePlugin(t, "fake")
	g.set(t, "answer.json", `{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","auth":{"x":{"password":"hunter2"}},"cacheKeyType":`)
	ps, _ = load(t, g, oneProvider)
	_, _, _, err = ps.Lookup(context.Background(), "a.registry.io/app")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "fake") {
		t.Errorf("bad answer: %v", err)
	}
	g.answer(t, "Pod", nil, nil)
	if _, _, _, err = ps.Lookup(context.Background(), "a.registry.io/app"); err == nil || !strings.Contains(err.Error(), `cacheKeyType "Pod"`) {
		t.Errorf("bad cacheKeyType: %v", err)
	}
}

// A plugin slower than exec_timeout is stopped and named. One slower than
// the caller's deadline goes on, and its answer, cached, serves the next
// attempt; concurrent lookups share one run.
func TestProviderTimeouts(t *testing.T) {
	t.Parallel()
	f := newFakePlugin(t, "fake")
	f.set(t, "sleep", "0.5")
	f.answer(t, cacheRegistry, nil, map[string]Credential{"*.registry.io": {Username: "u", Password: "p"}})
	ps, err := Load(Settings{Config: f.config(t, oneProvider), BinDir: f.bin, ExecTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = ps.Lookup(context.Background(), "a.registry.io/app")
	if err == nil || !strings.Contains(err.Error(), "credential provider fake for a.registry.io/app: no answer within 100ms") {
		t.Errorf("slow plugin: %v", err)
	}

	ps.timeout = 10 * time.Second
	before := f.runs(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _, err := ps.Lookup(ctx, "a.registry.io/app")
			if err == nil || !strings.Contains(err.Error(), "still running at the verification's deadline") {
				t.Errorf("past the deadline: %v", err)
			}
		}()
	}
	wg.Wait()
	// The run goes on; this lookup waits for it and the one after is cached.
	if _, _, ok, err := ps.Lookup(context.Background(), "a.registry.io/app"); !ok || err != nil {
		t.Fatalf("after the run: %v, %v", ok, err)
	}
	if _, _, ok, err := ps.Lookup(context.Background(), "a.registry.io/app"); !ok || err != nil {
		t.Fatalf("cached: %v, %v", ok, err)
	}
	if n := f.runs(t) - before; n != 1 {
		t.Errorf("%d runs, want 1 shared by all", n)
	}
}

// A plugin gets none of signgate's own credentials (the KMS principal's,
// from the DaemonSet's envFrom): only PATH, HOME, proxies, the AWS region
// and the like, then the provider config's env.
func TestPluginEnvironmentIsMinimal(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAKMSPRINCIPAL", "AWS_SECRET_ACCESS_KEY": "kms-secret", "AWS_SESSION_TOKEN": "kms-session",
		"AWS_ROLE_ARN": "arn:aws:iam::1:role/kms", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/kms-token",
		"VAULT_TOKEN": "hvs.kms", "GOOGLE_APPLICATION_CREDENTIALS": "/etc/kms/gcp.json", "AZURE_CLIENT_SECRET": "kms-azure",
		"AWS_REGION": "eu-west-1", "HTTPS_PROXY": "http://proxy.example:3128",
	} {
		t.Setenv(k, v)
	}
	f := newFakePlugin(t, "fake")
	f.set(t, "printenv", "")
	f.answer(t, cacheRegistry, nil, map[string]Credential{"*.registry.io": {Username: "u", Password: "p"}})
	ps, _ := load(t, f, oneProvider)
	if _, _, ok, err := ps.Lookup(context.Background(), "a.registry.io/app"); !ok || err != nil {
		t.Fatalf("Lookup: %v, %v", ok, err)
	}
	environ := f.read(t, "environ")
	for _, secret := range []string{"AKIAKMSPRINCIPAL", "kms-secret", "kms-session", "role/kms", "kms-token", "hvs.kms", "gcp.json", "kms-azure"} {
		if strings.Contains(environ, secret) {
			t.Errorf("the plugin sees signgate's %q", secret)
		}
	}
	for _, want := range []string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=eu-west-1", "HTTPS_PROXY=http://proxy.example:3128", "FAKE_SEEN=from-config"} {
		if !strings.Contains(environ, want+"\n") {
			t.Errorf("the plugin lacks %s", want)
		}
	}
}

// A relative bin dir could leave a plugin a bare name that exec looks up
// in $PATH: Load refuses it, naming the key, even when the plugin is in
// the working directory.
func TestRelativeBinDirIsRefused(t *testing.T) {
	f := newFakePlugin(t, "fake")
	t.Chdir(f.bin)
	for _, s := range []Settings{{Config: f.config(t, oneProvider), BinDir: "."}, {Config: "../credential-provider.yaml", BinDir: f.bin}} {
		if _, err := Load(s); err == nil || !strings.Contains(err.Error(), "must be an absolute path") {
			t.Errorf("%+v: %v", s, err)
		}
	}
}
