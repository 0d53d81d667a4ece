package packaging_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// debFiles reads the files the .deb would install, by path (no leading ".").
func debFiles(t *testing.T, deb string) map[string][]byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v\n%s", deb, err, stderr.Bytes())
	}
	files := map[string][]byte{}
	r := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", deb, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %s: %v", deb, h.Name, err)
		}
		files[strings.TrimPrefix(h.Name, ".")] = b
	}
}

// The package puts nothing in another program's configuration: a drop-in in
// /etc/containerd would make containerd refuse every container at its next
// restart, before the operator starts signgate, and the 2.x one (version 3)
// stops containerd 1.7 from starting. Both drop-ins ship under
// /usr/share/signgate, each as the repository has it, for the operator to
// copy (docs/install.md).
func TestDebianPackageShipsDropInsOnly(t *testing.T) {
	deb := os.Getenv("SIGNGATE_TEST_DEB")
	if deb == "" {
		testenv.Skip(t, "SIGNGATE_TEST_DEB is not set; run `make packaging`")
	}
	files := debFiles(t, deb)
	for p := range files {
		if strings.HasPrefix(p, "/etc/") && p != "/etc/" && !strings.HasPrefix(p, "/etc/signgate/") {
			t.Errorf("%s installs %s: the package may write only /etc/signgate under /etc", deb, p)
		}
	}
	for dst, src := range map[string]string{
		"/usr/share/signgate/containerd-2.toml":   "containerd/signgate.toml",
		"/usr/share/signgate/containerd-1.7.toml": "containerd/signgate-1.7.toml",
	} {
		got, ok := files[dst]
		if !ok {
			t.Errorf("%s does not ship %s", deb, dst)
			continue
		}
		if want := must(os.ReadFile(src)); !bytes.Equal(got, want) {
			t.Errorf("%s: %s is not packaging/%s", deb, dst, src)
		}
	}
}
