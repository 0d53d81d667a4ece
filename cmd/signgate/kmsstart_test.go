package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
)

var downKMS = &kmstest.Down{}

func init() {
	kms.Register("downkms", kms.Factory{
		Section: "aws",
		Check:   func(string, string) (kms.Ref, error) { return kms.Ref{}, nil },
		New:     func(context.Context, kms.Settings) (kms.Provider, error) { return downKMS, nil },
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
	body := fmt.Sprintf("[daemon]\nstate_dir = %q\n[registry]\nverify_timeout = \"1s\"\n[kms]\nrequest_timeout = \"40s\"\n"+
		"[keys.release]\nkms = \"downkms://release\"\n[[policy]]\nname = \"release\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"release\"]\n", filepath.Join(dir, "state"))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, closeKeys, err := loadEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	closeKeys()
	waits := downKMS.Waits()
	if len(waits) == 0 {
		t.Fatal("the KMS was not asked")
	}
	for _, w := range waits {
		if w < 30*time.Second {
			t.Fatalf("the command waited %s for the KMS; the daemon waits kms.request_timeout (40s)", w.Round(time.Second))
		}
	}
}
