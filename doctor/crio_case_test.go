package doctor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CRI-O decodes its config with BurntSushi/toml into structs, which match
// a key to a field whatever its case: a drop-in spelling a key in capitals
// turns the validator off, or names an opt-out annotation, for CRI-O.
// doctor must see it so (it read the files into a map, case-sensitively,
// and said the node failed closed).
func TestReadCRIOFoldsCaseAsCRIODoes(t *testing.T) {
	const on = "[crio.nri]\nenable_nri = true\nnri_plugin_request_timeout = \"2s\"\n\n" + dropIn
	for _, late := range []string{
		"[crio.nri.default_validator]\nNRI_ENABLE_DEFAULT_VALIDATOR = false\n",
		"[CRIO.NRI.DEFAULT_VALIDATOR]\nnri_enable_default_validator = false\n",
		"[crio.nri.default_validator]\nNri_Validator_Required_Plugins = []\n",
	} {
		fs := checkCRIOFiles(t, map[string]string{"crio.conf.d/10-signgate.conf": on, "crio.conf.d/99-site.conf": late}, connected("1.35.2"))
		if f := find(t, fs, "fails closed"); f.Holds {
			t.Errorf("%q: doctor says %q: %s", late, f.Guarantee, f.Detail)
		}
	}
	fs := checkCRIOFiles(t, map[string]string{"crio.conf.d/10-signgate.conf": on,
		"crio.conf.d/99-site.conf": "[crio.nri.default_validator]\nNRI_VALIDATOR_TOLERATE_MISSING_PLUGINS_ANNOTATION = \"example.com/debug\"\n"}, connected("1.35.2"))
	if f := find(t, fs, "no pod can opt out"); f.Holds || !strings.Contains(f.Detail, "example.com/debug") || !strings.Contains(f.Detail, "admission policy") {
		t.Errorf("a case-folded opt-out annotation: %+v", f)
	}

	// The file that set a key, whatever its case, is the one doctor names.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"crio.conf.d/10-signgate.conf": on, "crio.conf.d/99-site.conf": "[crio.nri.default_validator]\nNRI_ENABLE_DEFAULT_VALIDATOR = false\n"})
	c, err := ReadCRIO(filepath.Join(dir, "crio.conf"), filepath.Join(dir, "crio.conf.d"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Validator || !strings.HasSuffix(c.Set[keyEnable], "99-site.conf") || c.NRIRequestTimeout != 2*time.Second {
		t.Errorf("validator %v set %s, timeout %s", c.Validator, c.Set[keyEnable], c.NRIRequestTimeout)
	}
	// Two spellings in one table: which one CRI-O keeps is Go's map order.
	writeFiles(t, dir, map[string]string{"crio.conf.d/99-site.conf": "[crio.nri.default_validator]\nnri_enable_default_validator = true\nNRI_ENABLE_DEFAULT_VALIDATOR = false\n"})
	if _, err := ReadCRIO(filepath.Join(dir, "crio.conf"), filepath.Join(dir, "crio.conf.d")); err == nil || !strings.Contains(err.Error(), "99-site.conf") {
		t.Errorf("two spellings of one key: %v", err)
	}
}

// Without CRI-O's config doctor cannot say NRI is on, nor that the node
// fails closed.
func TestCheckCRIOWithoutConfig(t *testing.T) {
	fs := Check(Node{Runtime: "crio", Deadline: time.Second, Plugin: "signgate", CRIOStorageReadable: true, Running: connected("1.35.2")})
	for _, g := range []string{"NRI is on", "fails closed", "signgate absent or killed"} {
		if f := find(t, fs, g); f.Holds {
			t.Errorf("no config, yet %q holds: %s", f.Guarantee, f.Detail)
		}
	}
}
