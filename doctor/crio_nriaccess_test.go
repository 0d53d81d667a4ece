package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// doctor names nri_plugin_dir and says when others can write it: CRI-O
// starts its plugins as root, and one named signgate stands in for it.
func TestCRIONRIPluginDir(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root: the directory must be root's")
	}
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"crio.conf.d/10-signgate.conf": dropIn, "crio.conf.d/20-dir.conf": "[crio.nri]\nnri_plugin_dir = \"" + dir + "\"\n"}
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), "only root can add an NRI plugin"); !f.Holds || !strings.Contains(f.Detail, dir) {
		t.Errorf("a root-only plugin dir: %+v", f)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), "only root can add an NRI plugin"); f.Holds || !strings.Contains(f.Detail, "-rwxrwxrwx") {
		t.Errorf("a world-writable plugin dir: %+v", f)
	}
}
