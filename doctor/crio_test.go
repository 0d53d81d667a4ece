package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// On a CRI-O node, doctor reads crio.conf and its drop-ins (a later file
// wins) and says fails closed only where the validator requires signgate,
// and never without saying which CRI-O builds ignore it.
func TestCheckCRIO(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "crio.conf")
	if err := os.WriteFile(main, []byte("[crio.nri]\nenable_nri = true\nnri_plugin_request_timeout = \"2s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	find := func(fs []Finding, g string) Finding {
		for _, f := range fs {
			if strings.HasPrefix(f.Guarantee, g) {
				return f
			}
		}
		t.Fatalf("no finding %q in %+v", g, fs)
		return Finding{}
	}
	check := func() []Finding {
		c, err := ReadCRIO(main, filepath.Join(dir, "crio.conf.d"))
		if err != nil {
			t.Fatal(err)
		}
		return Check(Node{Runtime: "crio", CRIO: c, Deadline: time.Second, Plugin: "signgate", CRIOStorageReadable: true})
	}
	fs := check()
	if f := find(fs, "fails closed"); f.Holds || !strings.Contains(f.Detail, "nri_validator_required_plugins") {
		t.Errorf("no validator configured: %+v", f)
	}
	if f := find(fs, "NRI is on"); !f.Holds {
		t.Errorf("enable_nri = true: %+v", f)
	}
	if err := os.MkdirAll(filepath.Join(dir, "crio.conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	drop := "[crio.nri.default_validator]\nnri_enable_default_validator = true\nnri_validator_required_plugins = [\"signgate\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "crio.conf.d", "10-signgate.conf"), []byte(drop), 0o644); err != nil {
		t.Fatal(err)
	}
	fs = check()
	if f := find(fs, "fails closed"); !f.Holds || !strings.Contains(f.Detail, "module proxy") {
		t.Errorf("validator requiring signgate: %+v", f)
	}
	if f := find(fs, "no pod can opt out"); !f.Holds {
		t.Errorf("no tolerate annotation: %+v", f)
	}
	// signgate's own word beats the config: this CRI-O refused the validator.
	c, _ := ReadCRIO(main, filepath.Join(dir, "crio.conf.d"))
	refused := Check(Node{Runtime: "crio", CRIO: c, Deadline: time.Second, Plugin: "signgate", CRIOStorageReadable: true,
		Running: &Running{Where: "api socket", Answered: true, Ready: true, Detail: "ok; " + ValidatorRefused}})
	if f := find(refused, "fails closed"); f.Holds {
		t.Errorf("signgate reports the validator refused, config requires it: %+v", f)
	}
	if err := os.WriteFile(filepath.Join(dir, "crio.conf.d", "20-tolerate.conf"), []byte("[crio.nri.default_validator]\nnri_validator_tolerate_missing_plugins_annotation = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := find(check(), "no pod can opt out"); f.Holds {
		t.Errorf("a tolerate annotation in a later drop-in: %+v", f)
	}
}
