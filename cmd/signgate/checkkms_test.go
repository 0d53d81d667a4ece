package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
)

// check-config --kms fails, naming key and version, when the KMS calls a
// version enabled that signgate cannot use (here the current one, so the
// key has no trusted version), rather than passing with a key nobody can
// sign for.
func TestCheckConfigNamesAnUnusableKMSVersion(t *testing.T) {
	v := kmstest.NewVaultKey(t, "release")
	v.Rotate(t, "release")
	v.SetPublicKey("release", 2, "not a public key")
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\nstate_dir = %q\n[kms.vault]\naddress = %q\n[keys.release]\nkms = \"hashivault://release\"\n"+
		"[[policy]]\nname = \"release\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"release\"]\n", filepath.Join(dir, "state"), v.URL)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, code := checkConfig(p, true)
	if code == exitOK {
		t.Fatalf("check-config passed: %+v", rep.KMS)
	}
	var found bool
	for _, k := range rep.KMS {
		if k.Name == "release" && k.Version == "2" && strings.Contains(k.Error, "cannot be used: public key is not PEM") {
			found = true
		}
	}
	if !found {
		t.Fatalf("report: %+v", rep.KMS)
	}
}
