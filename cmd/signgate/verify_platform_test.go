package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/signgate/signgate/internal/testkit/sigtest"
)

// signgate verify --platform answers as a node of that platform would: the
// index's manifest for it is the one whose signatures count; the host's
// platform by default.
func TestVerifyPlatform(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	_, digests, err := sigtest.PushPlatforms(reg+"/app:v1", "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SignLegacy(digests["amd64"]); err != nil { // CI signed one platform's build
		t.Fatal(err)
	}
	cfg := enforcingWith(t, reg, s.PublicPEM())

	type out struct {
		Allowed            bool
		Cause, Reason      string
		Platform, Manifest string
	}
	verify := func(args ...string) (out, int) {
		t.Helper()
		r := signgate(t, nil, append([]string{"verify", "--config", cfg, "--output", "json"}, args...)...)
		var v out
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, r.stdout, r.stderr)
		}
		return v, r.code
	}
	v, code := verify("--platform", "linux/amd64", reg+"/app:v1")
	if code != 0 || !v.Allowed || v.Platform != digests["amd64"].DigestStr() || v.Manifest != v.Platform {
		t.Errorf("linux/amd64: exit %d, %+v; want allowed on %s", code, v, digests["amd64"].DigestStr())
	}
	v, code = verify("--platform", "linux/arm64", reg+"/app:v1")
	if code != 1 || v.Allowed || v.Platform != digests["arm64"].DigestStr() || !strings.Contains(v.Reason, "no cosign signatures found") {
		t.Errorf("linux/arm64: exit %d, %+v; want denied: the amd64 signature never counts for arm64", code, v)
	}
	v, code = verify("--platform", "linux/s390x", reg+"/app:v1")
	if code != 1 || v.Allowed || v.Cause != "image_unknown" || !strings.Contains(v.Reason, "no manifest for platform linux/s390x") {
		t.Errorf("linux/s390x: exit %d, %+v", code, v)
	}
	// A plain manifest is its own platform manifest, whatever --platform.
	v, code = verify("--platform", "linux/arm64", digests["amd64"].String())
	if code != 0 || !v.Allowed || v.Manifest != digests["amd64"].DigestStr() {
		t.Errorf("plain manifest: exit %d, %+v", code, v)
	}
	// The default is this host's platform.
	v, _ = verify(reg + "/app:v1")
	if want := digests[hostArch()]; want.DigestStr() != "" && v.Platform != want.DigestStr() {
		t.Errorf("default platform: %+v; want %s's manifest", v, hostPlatform())
	}
	if r := signgate(t, nil, "verify", "--config", cfg, "--platform", "amd64", reg+"/app:v1"); r.code != 2 || !strings.Contains(r.stderr, "want os/arch") {
		t.Errorf("--platform amd64: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func hostArch() string { return strings.TrimPrefix(hostPlatform(), "linux/") }
