package nri

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

// TestAddedCgroupRuleOfAnUncheckedTypeIsRefused: NRI passes a rule's type
// to the spec unchecked and crun reads its first letter, so an allowing
// rule of any type but c or u ("ba", "all", "block", "b ", "cx", " c", p)
// is refused as every device, naming the plugin's rule; a deny rule of
// any type passes.
func TestAddedCgroupRuleOfAnUncheckedTypeIsRefused(t *testing.T) {
	classes := parseCharClasses([]byte(hostDevices))
	for _, typ := range []string{"ba", "all", "block", "b ", "cx", " c", "C", "p", "a", "", "b"} {
		err := addedDevices("c1", charRule(num(21), nil, typ), nil, classes)
		if err == nil || !strings.Contains(err.Error(), "another NRI plugin") || !strings.Contains(err.Error(), `type "`+typ+`"`) {
			t.Errorf("allow type %q, 21:* rwm added: %v; want a refusal naming the rule", typ, err)
		}
		deny := charRule(nil, nil, typ)
		deny.Linux.Resources.Devices[0].Allow = false
		if err := addedDevices("c1", deny, nil, classes); err != nil {
			t.Errorf("deny type %q added: %v", typ, err)
		}
	}
}

// TestAddedMknodOnlyCgroupRulePasses: c *:* m lets the container make
// nodes it cannot open (runc's and crun's defaults hold it): it passes;
// the wildcard with r or w, or with no access (read as rwm), is refused.
func TestAddedMknodOnlyCgroupRulePasses(t *testing.T) {
	classes := parseCharClasses([]byte(hostDevices))
	for _, access := range []string{"m", "mm"} {
		adj := charRule(nil, nil, "c")
		adj.Linux.Resources.Devices[0].Access = access
		if err := addedDevices("c1", adj, nil, classes); err != nil {
			t.Errorf("c *:* %s added: %v", access, err)
		}
	}
	for _, access := range []string{"r", "w", "rm", "wm", "", "M"} {
		adj := charRule(nil, nil, "c")
		adj.Linux.Resources.Devices[0].Access = access
		if err := addedDevices("c1", adj, nil, classes); err == nil {
			t.Errorf("c *:* %q added: allowed, want a refusal", access)
		}
	}
}

// TestAddedBindThroughASymlinkToARawNodeIsRefused: a bind is judged
// where its symlinks lead (/dev/char/21:0 is /dev/sg0), a character
// node there by its major: a link to a c 21 0 node is refused, one to
// /dev/null passes. A directory under /dev but a few known ones
// (/dev/mapper: the disks' nodes) is refused; /dev/dri passes.
func TestAddedBindThroughASymlinkToARawNodeIsRefused(t *testing.T) {
	classes := parseCharClasses([]byte(hostDevices))
	dir := t.TempDir()
	sg := filepath.Join(dir, "sg0")
	if err := syscall.Mknod(sg, syscall.S_IFCHR|0o600, 21<<8); err != nil { // c 21 0
		testenv.Skip(t, "making a character device node needs root: %v", err)
	}
	link := filepath.Join(dir, "21:0")
	null := filepath.Join(dir, "null")
	for target, l := range map[string]string{sg: link, "/dev/null": null} {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	owners := api.NewOwningPlugins()
	if err := owners.ClaimMount("c1", "/d", "device-injector"); err != nil {
		t.Fatal(err)
	}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"a link to c 21 0":  mountAdj(link, "bind", "rbind"),
		"the c 21 0 node":   mountAdj(sg, "", "bind"),
		"/dev/mapper":       mountAdj("/dev/mapper", "bind", "rbind"),
		"/dev/char":         mountAdj("/dev/char", "bind", "rbind"),
		"/dev/nonexistent9": mountAdj("/dev/nonexistent9", "bind"),
	} {
		if err := addedDevices("c1", adj, owners, classes); err == nil || !strings.Contains(err.Error(), `"device-injector"`) {
			t.Errorf("%s bound: %v; want a refusal naming the plugin", name, err)
		}
	}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"a link to /dev/null": mountAdj(null, "bind", "rbind"),
		"/dev/null":           mountAdj("/dev/null", "", "bind"),
		"/dev/dri":            mountAdj("/dev/dri", "bind", "rbind"),
		"/dev/shm":            mountAdj("/dev/shm", "bind", "rbind"),
		"a directory":         mountAdj(dir, "bind", "rbind"),
	} {
		if err := addedDevices("c1", adj, owners, classes); err != nil {
			t.Errorf("%s bound: %v", name, err)
		}
	}
}
