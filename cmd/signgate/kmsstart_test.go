package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/signgate/signgate/keystore/kms"
)

// deadlineKMS is a KMS that is down, and notes how long each caller was
// prepared to wait for it.
type deadlineKMS struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (k *deadlineKMS) Versions(ctx context.Context, _ kms.Ref, _ []string) ([]kms.Version, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := ctx.Deadline()
	if !ok {
		k.waits = append(k.waits, -1)
	} else {
		k.waits = append(k.waits, time.Until(d))
	}
	return nil, errors.New("the KMS is down")
}

var deadlines = &deadlineKMS{}

func init() {
	kms.Register("deadlinekms", kms.Factory{
		Section: "aws",
		Check:   func(string, string) (kms.Ref, error) { return kms.Ref{}, nil },
		New:     func(context.Context, kms.Settings) (kms.Provider, error) { return deadlines, nil },
	})
}

// TestCommandsSyncKMSAsTheDaemon: `signgate verify` and `preview` start
// KMS keys as the daemon does (setup.StartKeys), waiting for the KMS as
// long as kms.request_timeout allows. They used to wait
// registry.verify_timeout instead, so with a KMS slower than that the
// command denied an image the daemon allowed.
func TestCommandsSyncKMSAsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(`[daemon]
state_dir = %q
[registry]
verify_timeout = "1s"
[kms]
request_timeout = "40s"
[keys.release]
kms = "deadlinekms://release"
[[policy]]
name = "release"
scopes = ["**"]
[policy.cosign]
keys = ["release"]
`, filepath.Join(dir, "state"))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, closeKeys, err := loadEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	closeKeys()
	deadlines.mu.Lock()
	defer deadlines.mu.Unlock()
	if len(deadlines.waits) == 0 {
		t.Fatal("the KMS was not asked")
	}
	for _, w := range deadlines.waits {
		if w < 30*time.Second {
			t.Fatalf("the command waited %s for the KMS; the daemon waits kms.request_timeout (40s)", w.Round(time.Second))
		}
	}
}
