package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without --crio-config and --crio-config-dir, doctor reads the files
// signgate itself reads for enable_criu_support: [daemon.runtime]
// crio_config and crio_config_dir. The flags, when given, still win.
func TestDoctorReadsTheCRIOFilesSigngateReads(t *testing.T) {
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(confd, "10-signgate.conf")
	if err := os.WriteFile(dropIn, []byte("[crio.runtime]\nenable_criu_support = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("[daemon]\napi_socket = %q\nmetrics_address = \"\"\n", filepath.Join(dir, "none.sock"))+allowAll[len("\n[daemon]\n"):]+
		fmt.Sprintf("\n[daemon.runtime]\nname = \"crio\"\ncrio_config = %q\ncrio_config_dir = %q\n", filepath.Join(dir, "crio.conf"), confd))
	r := signgate(t, nil, "doctor", "--config", cfg, "--crio-socket", filepath.Join(dir, "no-crio.sock"))
	if !strings.Contains(r.stdout, "enable_criu_support = false (in "+dropIn+")") {
		t.Errorf("doctor did not read crio_config_dir %s:\n%s%s", confd, r.stdout, r.stderr)
	}
	other := filepath.Join(dir, "other.d")
	r = signgate(t, nil, "doctor", "--config", cfg, "--crio-socket", filepath.Join(dir, "no-crio.sock"), "--crio-config-dir", other)
	if strings.Contains(r.stdout, dropIn) || !strings.Contains(r.stdout+r.stderr, other) {
		t.Errorf("--crio-config-dir %s did not win over crio_config_dir:\n%s%s", other, r.stdout, r.stderr)
	}
}
