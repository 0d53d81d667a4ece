package nri

import (
	"fmt"
	"path"
	"strings"

	"github.com/containerd/nri/pkg/api"
)

// addedDevices refuses a device another plugin added (NRI's
// device-injector takes any a pod's annotations name) that gives the
// container a disk's blocks or the host's memory: the disk that holds the
// image stores gives the pod every layer, a signed image's snapshot too,
// to rewrite, and /dev/mem the host. Refused:
//
//   - a block device (/dev/sdb, type b), and a device of any other type
//     than c, u or p (deny on doubt: its cgroup rule would open all);
//   - a character device of a raw disk or memory class (rawdevices.go):
//     /dev/sg0 (SCSI generic writes blocks without CAP_SYS_RAWIO),
//     /dev/ng0n1 (NVMe passthrough), /dev/mem, /dev/kmem, /dev/port, by
//     its major and, in case a node is given another, by its path;
//   - a device cgroup rule allowing b or a (all), a c rule for every
//     major, or for a raw class: with CAP_MKNOD, containerd's default,
//     the container makes the nodes itself;
//   - a devtmpfs mount, or a bind of /dev or a raw node: every node, or
//     the raw one, without an added device.
//
// A GPU (/dev/nvidia0, c 195:0; /dev/dri/card0; c 195:* rwm), the null,
// zero and random devices (1:3, 1:5, 1:8, 1:9) and FIFOs pass. classes
// is the host's /proc/devices; owners names the plugin, where NRI says.
func addedDevices(id string, adj *api.ContainerAdjustment, owners *api.OwningPlugins, classes charClasses) error {
	for _, d := range adj.GetLinux().GetDevices() {
		if _, removal := d.IsMarkedForRemoval(); removal || d.GetType() == "p" {
			continue
		}
		by := "another NRI plugin"
		if owners != nil && owners.Owners != nil {
			if o, ok := owners.DeviceOwner(id, d.GetPath()); ok && o != "" {
				by = fmt.Sprintf("NRI plugin %q", o)
			}
		}
		if d.GetType() == "c" || d.GetType() == "u" {
			why := classes.refusedChar(d.GetMajor(), d.GetMinor())
			if why == "" && rawDevicePath(d.GetPath()) {
				why = "a disk's blocks or the host's memory, by its name"
			}
			if why != "" {
				return fmt.Errorf("the character device %s (%d:%d) added by %s gives the container %s", d.GetPath(), d.GetMajor(), d.GetMinor(), by, why)
			}
			continue
		}
		what := "the block device"
		if d.GetType() != "b" {
			// Its cgroup rule would carry the same type: "" opens every device.
			what = fmt.Sprintf("the device of type %q", d.GetType())
		}
		return fmt.Errorf("%s %s (%d:%d) added by %s may be the disk that holds the image stores, whose layers the container could rewrite", what, d.GetPath(), d.GetMajor(), d.GetMinor(), by)
	}
	for _, r := range adj.GetLinux().GetResources().GetDevices() {
		if !r.GetAllow() {
			continue
		}
		if why := refusedRule(r, classes); why != "" {
			return fmt.Errorf("the device cgroup rule added by another NRI plugin (allow type %q, %s, access %q) lets the container use %s", r.GetType(), majorMinor(ruleNum(r.GetMajor()), ruleNum(r.GetMinor())), r.GetAccess(), why)
		}
	}
	for _, m := range adj.GetMounts() {
		if _, removal := m.IsMarkedForRemoval(); removal {
			continue
		}
		src := path.Clean(m.GetSource())
		if m.GetType() == "devtmpfs" {
			return fmt.Errorf("the devtmpfs mount at %s added by %s gives the container every device node of the host, the disks' among them", m.GetDestination(), mountBy(id, m, owners))
		}
		if !isBind(m) {
			continue
		}
		if why := refusedDevBind(src, classes); why != "" {
			return fmt.Errorf("the bind mount of %s at %s added by %s gives the container %s", src, m.GetDestination(), mountBy(id, m, owners), why)
		}
	}
	return nil
}

// refusedRule says why an allowing device cgroup rule may not be added,
// or "". Only c and u rules can be judged by their major: NRI passes the
// type to the spec unchecked, runc refuses one it does not know but crun
// reads its first letter ("ba", "all", "block" open block devices or
// every device), so every other type (b, a, "", p, which the devices
// cgroup has no rules for) is refused as every device. A rule that only
// lets the container make nodes (access "m") opens none: runc's and
// crun's own defaults hold c *:* m.
func refusedRule(r *api.LinuxDeviceCgroup, classes charClasses) string {
	switch r.GetType() {
	case "c", "u":
	case "b":
		return "block devices, the disk that holds the image stores among them, whose layers it could rewrite"
	default:
		return "every device (a type the devices cgroup does not judge by major), the disk that holds the image stores among them, whose layers it could rewrite"
	}
	if a := r.GetAccess(); a != "" && strings.Trim(a, "m") == "" {
		return ""
	}
	return classes.refusedChar(ruleNum(r.GetMajor()), ruleNum(r.GetMinor()))
}

// ruleNum is a cgroup rule's major or minor, -1 for every (unset).
func ruleNum(v *api.OptionalInt64) int64 {
	if v == nil {
		return -1
	}
	return v.GetValue()
}

// majorMinor spells a cgroup rule's numbers as runc does, * for every.
func majorMinor(major, minor int64) string {
	n := func(v int64) string {
		if v < 0 {
			return "*"
		}
		return fmt.Sprint(v)
	}
	return n(major) + ":" + n(minor)
}

// mountBy names the plugin that added m, where NRI says.
func mountBy(id string, m *api.Mount, owners *api.OwningPlugins) string {
	if owners != nil && owners.Owners != nil {
		if o, ok := owners.MountOwner(id, m.GetDestination()); ok && o != "" {
			return fmt.Sprintf("NRI plugin %q", o)
		}
	}
	return "another NRI plugin"
}
