package verify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// The manifest chosen from an index for a platform is the one containerd
// pulls for it (github.com/containerd/platforms): variants normalized
// (arm64 is arm64/v8, not v8.2), fallbacks ranked (arm64 runs arm/v8
// before arm/v7, arm/v7 runs arm/v6, amd64 runs 386), a plain amd64
// before amd64/v3 on a node that asks for amd64, Windows' OS version,
// and an entry that names no platform judged last, by its config.
// Matching OS/arch by hand chose another manifest, or none, for each.
func TestPlatformChosenAsContainerd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 0)
	eng := e.engine(nil, registry.Config{}, verify.Options{})
	linux := func(arch, variant string) *v1.Platform {
		return &v1.Platform{OS: "linux", Architecture: arch, Variant: variant}
	}
	named := func(p *v1.Platform) sigtest.Entry { return sigtest.Entry{Named: p, Config: *p} }
	windows := func(version string) *v1.Platform {
		return &v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: version}
	}
	for _, c := range []struct {
		name     string
		platform string
		entries  []sigtest.Entry
		want     int // the entry chosen; -1: none
	}{
		{"amd64 before amd64/v3", "linux/amd64", []sigtest.Entry{named(linux("amd64", "v3")), named(linux("amd64", ""))}, 1},
		{"amd64/v3 runs v2 before v1", "linux/amd64/v3", []sigtest.Entry{named(linux("amd64", "")), named(linux("amd64", "v2"))}, 1},
		{"amd64 runs 386", "linux/amd64", []sigtest.Entry{named(linux("arm64", "")), named(linux("386", ""))}, 1},
		{"arm64 is v8, not v8.2", "linux/arm64", []sigtest.Entry{named(linux("arm64", "v8.2")), named(linux("arm64", "v8"))}, 1},
		{"arm64 runs arm/v8 before arm/v7", "linux/arm64", []sigtest.Entry{named(linux("arm", "v7")), named(linux("arm", "v8"))}, 1},
		{"arm/v7 runs arm/v6", "linux/arm/v7", []sigtest.Entry{named(linux("arm", "v6")), named(linux("arm", "v8"))}, 0},
		{"the best, not the first", "linux/arm/v7", []sigtest.Entry{named(linux("arm", "v5")), named(linux("arm", "v7"))}, 1},
		{"windows OS version", "windows(10.0.17763)/amd64", []sigtest.Entry{named(windows("10.0.20348.2227")), named(windows("10.0.17763.5329"))}, 1},
		{"no platform named: its config's", "linux/amd64", []sigtest.Entry{{Config: *linux("amd64", "")}, named(linux("arm64", ""))}, 0},
		{"no platform named: last", "linux/amd64", []sigtest.Entry{{Config: *linux("amd64", "")}, named(linux("amd64", ""))}, 1},
		{"no platform named, config of another", "linux/amd64", []sigtest.Entry{{Config: *linux("arm64", "")}}, -1},
		{"none", "linux/s390x", []sigtest.Entry{named(linux("amd64", "")), named(linux("arm64", ""))}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			idx, ms, err := sigtest.PushEntries(e.host+"/pick:v1", c.entries...)
			if err != nil {
				t.Fatal(err)
			}
			p, err := verify.ParsePlatform(c.platform)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := eng.PlatformManifest(ctx, idx, p)
			if c.want < 0 {
				if !errors.Is(err, verify.ErrNoPlatform) {
					t.Fatalf("%s: got %q, %v; want %v", c.platform, got, err, verify.ErrNoPlatform)
				}
				return
			}
			if err != nil || got != ms[c.want].DigestStr() {
				t.Fatalf("%s: got %q, %v; want entry %d, %s", c.platform, got, err, c.want, ms[c.want].DigestStr())
			}
		})
	}
}
