package nri

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// hostDevices is a host's /proc/devices with the raw classes loaded at
// dynamic majors, as they are on a host with NVMe and a GPU.
const hostDevices = `Character devices:
  1 mem
  4 /dev/vc/0
  4 tty
  5 /dev/tty
 10 misc
 21 sg
 90 mtd
195 nvidia-frontend
226 drm
238 ubi0
239 dax
240 nvme-generic
241 nvme
248 bsg
254 ndctl
508 nvidia-uvm

Block devices:
  8 sd
259 blkext
`

func charDev(p string, major, minor int64) *api.ContainerAdjustment {
	return &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Devices: []*api.LinuxDevice{{Path: p, Type: "c", Major: major, Minor: minor}}}}
}

func charRule(major, minor *api.OptionalInt64, typ string) *api.ContainerAdjustment {
	r := &api.LinuxDeviceCgroup{Allow: true, Type: typ, Major: major, Minor: minor, Access: "rwm"}
	return &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Resources: &api.LinuxResources{Devices: []*api.LinuxDeviceCgroup{r}}}}
}

func num(v int64) *api.OptionalInt64 { return &api.OptionalInt64{Value: v} }

func mountAdj(src, typ string, opts ...string) *api.ContainerAdjustment {
	return &api.ContainerAdjustment{Mounts: []*api.Mount{{Destination: "/d", Source: src, Type: typ, Options: opts}}}
}

// TestAddedRawCharDevicesAreRefused: character devices give raw disk
// access too: SCSI generic (/dev/sg0 writes blocks without
// CAP_SYS_RAWIO), NVMe generic (/dev/ng0n1 writes since Linux 6.2), bsg,
// mtd, ubi, device DAX, and /dev/mem, /dev/kmem, /dev/port the host's
// memory. Refused by major, read from /proc/devices for the dynamic ones,
// and by path for a node given another major; so are a c cgroup rule of
// every major (c *:* rwm: with CAP_MKNOD the pod makes c 21 0 itself) or
// of a raw major, and a devtmpfs mount or a bind of /dev (every node).
func TestAddedRawCharDevicesAreRefused(t *testing.T) {
	classes := parseCharClasses([]byte(hostDevices))
	if classes.err != nil {
		t.Fatal(classes.err)
	}
	owners := api.NewOwningPlugins()
	if err := owners.ClaimDevice("c1", "/dev/sg0", "device-injector"); err != nil {
		t.Fatal(err)
	}
	if err := owners.ClaimMount("c1", "/d", "device-injector"); err != nil {
		t.Fatal(err)
	}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"/dev/sg0":           charDev("/dev/sg0", 21, 0),
		"/dev/ng0n1":         charDev("/dev/ng0n1", 240, 0),
		"/dev/nvme0":         charDev("/dev/nvme0", 241, 0),
		"/dev/bsg/0:0:0:0":   charDev("/dev/bsg/0:0:0:0", 248, 0),
		"/dev/mem":           charDev("/dev/mem", 1, 1),
		"/dev/kmem":          charDev("/dev/kmem", 1, 2),
		"/dev/port":          charDev("/dev/port", 1, 4),
		"/dev/mtd0":          charDev("/dev/mtd0", 90, 0),
		"/dev/raw/raw1":      charDev("/dev/raw/raw1", 162, 1),
		"/dev/ubi0":          charDev("/dev/ubi0", 238, 0),
		"/dev/dax0.0":        charDev("/dev/dax0.0", 239, 0),
		"sg by major":        charDev("/dev/gpu9", 21, 3),
		"u sg by major":      {Linux: &api.LinuxContainerAdjustment{Devices: []*api.LinuxDevice{{Path: "/dev/x", Type: "u", Major: 21, Minor: 0}}}},
		"ng by name":         charDev("/dev/ng1n1", 60, 0),
		"sg by name":         charDev("/dev//sg3", 60, 0),
		"mem by name":        charDev("/dev/mem", 60, 0),
		"c *:* (unset)":      charRule(nil, nil, "c"),
		"c -1:* (wildcard)":  charRule(num(-1), nil, "c"),
		"u *:*":              charRule(nil, nil, "u"),
		"c 21:*":             charRule(num(21), nil, "c"),
		"c 21:0":             charRule(num(21), num(0), "c"),
		"c 1:*":              charRule(num(1), nil, "c"),
		"c 1:1":              charRule(num(1), num(1), "c"),
		"c 240:* (ng)":       charRule(num(240), nil, "c"),
		"c 248:0 (bsg)":      charRule(num(248), num(0), "c"),
		"devtmpfs":           mountAdj("devtmpfs", "devtmpfs"),
		"devtmpfs from none": mountAdj("none", "devtmpfs", "nosuid"),
		"bind of /dev":       mountAdj("/dev", "bind", "rbind"),
		"bind of /dev/sg0":   mountAdj("/dev/sg0", "", "bind"),
	} {
		err := addedDevices("c1", adj, owners, classes)
		if err == nil {
			t.Errorf("%s added: allowed, want a refusal", name)
			continue
		}
		if strings.Contains(name, "/dev/sg0") || strings.Contains(name, "devtmpfs") || strings.HasPrefix(name, "bind") {
			if !strings.Contains(err.Error(), `"device-injector"`) {
				t.Errorf("%s added: %v; want the plugin named", name, err)
			}
		}
	}
}

// TestAddedRawCharDevicesAreRefusedByTheValidator: the validator judges
// with the host's /proc/devices: sg's and mem's majors are fixed.
func TestAddedRawCharDevicesAreRefusedByTheValidator(t *testing.T) {
	for name, adj := range map[string]*api.ContainerAdjustment{
		"/dev/sg0": charDev("/dev/sg0", 21, 0),
		"/dev/mem": charDev("/dev/mem", 1, 1),
		"c *:*":    charRule(nil, nil, "c"),
		"devtmpfs": mountAdj("devtmpfs", "devtmpfs"),
	} {
		if err := validateAdded(t, newFixture(t), adj, nil); err == nil {
			t.Errorf("%s added: allowed, want a refusal", name)
		}
	}
}

// gpuAdjustments are what a GPU's device plugin or CDI adds: NVIDIA's
// nodes (nvidia-uvm at a dynamic major), a DRM card, the harmless mem
// minors, and cgroup rules with a major and every minor.
func gpuAdjustments() map[string]*api.ContainerAdjustment {
	return map[string]*api.ContainerAdjustment{
		"/dev/nvidia0":     charDev("/dev/nvidia0", 195, 0),
		"/dev/nvidiactl":   charDev("/dev/nvidiactl", 195, 255),
		"/dev/nvidia-uvm":  charDev("/dev/nvidia-uvm", 508, 0),
		"/dev/dri/card0":   charDev("/dev/dri/card0", 226, 0),
		"/dev/null":        charDev("/dev/null", 1, 3),
		"/dev/zero":        charDev("/dev/zero", 1, 5),
		"/dev/random":      charDev("/dev/random", 1, 8),
		"/dev/urandom":     charDev("/dev/urandom", 1, 9),
		"/dev/sgx_enclave": charDev("/dev/sgx_enclave", 10, 125),
		"c 195:* rwm":      charRule(num(195), nil, "c"),
		"c 226:* rwm":      charRule(num(226), nil, "c"),
		"c 1:3 rwm":        charRule(num(1), num(3), "c"),
		"tmpfs at /dev/x":  mountAdj("tmpfs", "tmpfs"),
	}
}

// TestAddedGPUDevicesPass: a GPU's character devices and cgroup rules
// pass, judged with a host's /proc/devices and by the validator.
func TestAddedGPUDevicesPass(t *testing.T) {
	classes := parseCharClasses([]byte(hostDevices))
	for name, adj := range gpuAdjustments() {
		if err := addedDevices("c1", adj, nil, classes); err != nil {
			t.Errorf("%s added: %v", name, err)
		}
		if err := validateAdded(t, newFixture(t), adj, nil); err != nil {
			t.Errorf("%s added, by the validator: %v", name, err)
		}
	}
}

// TestAddedDevicesWithoutProcDevices: when /proc/devices cannot be read
// the class of a dynamic major cannot be told: refused (deny on doubt),
// naming /proc/devices. Fixed majors are judged still: a GPU's 195 and
// 226 pass, sg's 21 and the wildcard are refused.
func TestAddedDevicesWithoutProcDevices(t *testing.T) {
	classes := charClasses{err: errors.New("open /proc/devices: permission denied")}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"/dev/nvidia-uvm": charDev("/dev/nvidia-uvm", 508, 0),
		"/dev/ng0n1":      charDev("/dev/ng0n1", 240, 0),
		"c 248:*":         charRule(num(248), nil, "c"),
	} {
		if err := addedDevices("c1", adj, nil, classes); err == nil || !strings.Contains(err.Error(), "/proc/devices") {
			t.Errorf("%s added without /proc/devices: %v; want a refusal naming /proc/devices", name, err)
		}
	}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"/dev/sg0": charDev("/dev/sg0", 21, 0),
		"/dev/sg1": charDev("/dev/sg1", 60, 0),
		"c *:*":    charRule(nil, nil, "c"),
	} {
		if err := addedDevices("c1", adj, nil, classes); err == nil {
			t.Errorf("%s added without /proc/devices: allowed, want a refusal", name)
		}
	}
	for name, adj := range map[string]*api.ContainerAdjustment{
		"/dev/nvidia0":   charDev("/dev/nvidia0", 195, 0),
		"/dev/dri/card0": charDev("/dev/dri/card0", 226, 0),
		"c 195:*":        charRule(num(195), nil, "c"),
	} {
		if err := addedDevices("c1", adj, nil, classes); err != nil {
			t.Errorf("%s added without /proc/devices: %v", name, err)
		}
	}
}

// TestParseCharClasses: only the character section counts (block 8 is
// sd, char 8 nothing), a major may carry several names, and a list
// without the section or with a garbled line is an error.
func TestParseCharClasses(t *testing.T) {
	c := parseCharClasses([]byte(hostDevices))
	if c.err != nil || len(c.names[8]) != 0 || len(c.names[259]) != 0 || strings.Join(c.names[4], ",") != "/dev/vc/0,tty" || c.names[240][0] != "nvme-generic" {
		t.Errorf("parsed %v, %v", c.names, c.err)
	}
	for _, bad := range []string{"Block devices:\n  8 sd\n", "Character devices:\n x mem\n", ""} {
		if c := parseCharClasses([]byte(bad)); c.err == nil {
			t.Errorf("parsed %q: no error", bad)
		}
	}
}
