package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// decode parses r's stdout as one JSON object with a schema.
func decode(t *testing.T, r result, schema string, v any) {
	t.Helper()
	var s struct{ Schema string }
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Schema != schema {
		t.Fatalf("want JSON with schema %s (exit %d, %v):\n%s%s", schema, r.code, err, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatal(err)
	}
}

func TestCheckConfigJSON(t *testing.T) {
	var rep struct {
		Valid    bool
		Error    string
		Policies []struct{ At, Name, Mode string }
	}
	r := signgate(t, nil, "check-config", "--config", writeConfig(t, allowAll), "--output", "json")
	decode(t, r, "signgate.dev/check-config/v1", &rep)
	if r.code != 0 || !rep.Valid || len(rep.Policies) != 1 || rep.Policies[0].At != "policy[0]" || rep.Policies[0].Name != "all" {
		t.Errorf("valid config: exit %d %+v", r.code, rep)
	}
	rep.Valid, rep.Policies = true, nil
	r = signgate(t, nil, "check-config", "--output", "json", "--config", writeConfig(t, "[daemon]\nnri_sokcet = 1\n"))
	decode(t, r, "signgate.dev/check-config/v1", &rep)
	if r.code != 2 || rep.Valid || !strings.Contains(rep.Error, "daemon.nri_sokcet") {
		t.Errorf("invalid config: exit %d %+v", r.code, rep)
	}
}

// Usage errors come as JSON too when JSON was asked for.
func TestUsageErrorsAsJSON(t *testing.T) {
	for _, c := range []struct {
		schema string
		args   []string
		want   string
	}{
		{"signgate.dev/check-config/v1", []string{"check-config", "--output", "json", "extra"}, `"extra"`},
		{"signgate.dev/check-config/v1", []string{"check-config", "--bogus", "--output=json"}, "-bogus"},
		{"signgate.dev/doctor/v1", []string{"doctor", "--output", "json", "--bogus"}, "-bogus"},
		{"signgate.dev/keys/v1", []string{"keys", "list", "--output", "json", "extra"}, `"extra"`},
		{"signgate.dev/ps/v1", []string{"ps", "--output", "json", "extra"}, `"extra"`},
		{"signgate.dev/verify/v1", []string{"verify", "--output", "json"}, "missing argument"},
		{"signgate.dev/inspect/v1", []string{"inspect", "--output", "json", "a", "b"}, `"b"`},
		{"signgate.dev/preview/v1", []string{"preview", "--output", "json"}, "--images FILE or --node"},
		{"signgate.dev/inspect/v1", []string{"inspect", "--output", "json", "--config", "/nonexistent/c.toml", "Bad Image"}, `image "Bad Image"`},
		{"signgate.dev/verify/v1", []string{"verify", "--output", "json", "--config", writeConfig(t, allowAll), "Bad Image"}, `image "Bad Image"`},
	} {
		var v struct{ Error string }
		r := signgate(t, nil, c.args...)
		decode(t, r, c.schema, &v)
		if r.code != 2 || !strings.Contains(v.Error, c.want) {
			t.Errorf("signgate %v: exit %d, error %q; want 2 and %s", c.args, r.code, v.Error, c.want)
		}
	}
}

// An --output that is neither text nor json is named, by every command
// that reports.
func TestUnknownOutputIsNamed(t *testing.T) {
	for _, args := range [][]string{{"check-config"}, {"doctor"}, {"keys", "list"}, {"keys", "sync"}, {"verify", digestRef}, {"inspect", digestRef}, {"preview", "--node"}} {
		r := signgate(t, nil, append(args, "--output", "yaml")...)
		if r.code != 2 || !strings.Contains(r.stderr, `--output "yaml"`) {
			t.Errorf("signgate %v --output yaml: exit %d, want 2 naming it\n%s", args, r.code, r.stderr)
		}
	}
}

type fakeContainerd struct {
	versionapi.UnimplementedVersionServer
}

func (fakeContainerd) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: "v2.2.0"}, nil
}

func TestDoctorJSON(t *testing.T) {
	sock := serveContainerd(t)
	cfg := writeConfig(t, fmt.Sprintf("[daemon]\ncontainerd_socket = %q\n", sock)+allowAll[len("\n[daemon]\n"):])
	var v struct {
		Containerd  string
		ConfigError string `json:"config_error"`
		Findings    []struct {
			Guarantee string
			Holds     bool
		}
	}
	r := signgate(t, nil, "doctor", "--config", cfg, "--containerd-config", filepath.Join(t.TempDir(), "none.toml"), "--output", "json")
	decode(t, r, "signgate.dev/doctor/v1", &v)
	if v.Containerd != "v2.2.0" || v.ConfigError == "" || len(v.Findings) == 0 || v.Findings[0].Guarantee == "" {
		t.Errorf("doctor --output json: exit %d %+v", r.code, v)
	}
}

// signgate ps without a daemon says so, in its schema when JSON is asked.
func TestPsWithoutADaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	var rep struct {
		Containers []any
		Error      string
	}
	r := signgate(t, nil, "ps", "--socket", sock, "--output", "json")
	decode(t, r, "signgate.dev/ps/v1", &rep)
	// 3, not 1: a script must tell "no daemon to ask" from "untrusted".
	if r.code != 3 || rep.Containers == nil || !strings.Contains(rep.Error, "cannot reach the signgate daemon at "+sock) {
		t.Fatalf("exit %d %+v", r.code, rep)
	}
	r = signgate(t, nil, "ps", "--socket", sock)
	if r.code != 3 || !strings.Contains(r.stderr, sock) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}

// check-config names the programs other plugins' hooks may run, or that
// it refuses them all.
func TestCheckConfigShowsHookPrograms(t *testing.T) {
	var rep struct {
		HookPrograms []string `json:"hook_programs"`
	}
	cfg := writeConfig(t, allowAll)
	if r := signgate(t, nil, "check-config", "--config", cfg); !strings.Contains(r.stdout, "hooks other NRI plugins add: all refused") {
		t.Fatalf("text without [hooks]:\n%s", r.stdout)
	}
	cfg = writeConfig(t, allowAll+"\n[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\"]\n")
	r := signgate(t, nil, "check-config", "--config", cfg, "--output", "json")
	decode(t, r, "signgate.dev/check-config/v1", &rep)
	if len(rep.HookPrograms) != 1 || rep.HookPrograms[0] != "/usr/bin/nvidia-ctk" {
		t.Fatalf("exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	if r = signgate(t, nil, "check-config", "--config", cfg); !strings.Contains(r.stdout, "may run only: /usr/bin/nvidia-ctk") {
		t.Fatalf("text:\n%s", r.stdout)
	}
}

// check-config names the host directories other plugins' mounts may
// bind, or that it refuses them all.
func TestCheckConfigShowsMountSources(t *testing.T) {
	var rep struct {
		MountSources []string `json:"mount_sources"`
	}
	cfg := writeConfig(t, allowAll)
	if r := signgate(t, nil, "check-config", "--config", cfg); !strings.Contains(r.stdout, "other NRI plugins add mounts of: all refused") {
		t.Fatalf("text without [added_mounts]:\n%s", r.stdout)
	}
	cfg = writeConfig(t, allowAll+"\n[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\"]\n")
	r := signgate(t, nil, "check-config", "--config", cfg, "--output", "json")
	decode(t, r, "signgate.dev/check-config/v1", &rep)
	if len(rep.MountSources) != 1 || rep.MountSources[0] != "/usr/lib/nvidia" {
		t.Fatalf("exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	if r = signgate(t, nil, "check-config", "--config", cfg); !strings.Contains(r.stdout, "only under /usr/lib/nvidia") {
		t.Fatalf("text:\n%s", r.stdout)
	}
}

// check-config says what each policy does with running containers it no
// longer trusts.
func TestCheckConfigShowsOnUntrustedRunning(t *testing.T) {
	var rep struct {
		Policies []struct {
			OnUntrustedRunning string `json:"on_untrusted_running"`
			StopConfirm        string `json:"stop_confirm"`
			StopUnanswered     string `json:"stop_unanswered_after"`
		}
	}
	cfg := writeConfig(t, strings.Replace(allowAll, `mode = "allow"`, "mode = \"allow\"\non_untrusted_running = \"stop\"\nstop_confirm = \"90s\"\nstop_unanswered_after = \"6h\"", 1))
	r := signgate(t, nil, "check-config", "--config", cfg, "--output", "json")
	decode(t, r, "signgate.dev/check-config/v1", &rep)
	if len(rep.Policies) != 1 || rep.Policies[0].OnUntrustedRunning != "stop" || rep.Policies[0].StopConfirm != "1m30s" || rep.Policies[0].StopUnanswered != "6h0m0s" {
		t.Fatalf("exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	if r = signgate(t, nil, "check-config", "--config", cfg); !strings.Contains(r.stdout, "running containers it no longer trusts are stopped (on_untrusted_running), once denied twice 1m30s apart") ||
		!strings.Contains(r.stdout, "once the registry has left their verdict unanswered for 6h0m0s (stop_unanswered_after)") {
		t.Fatalf("text:\n%s", r.stdout)
	}
}
