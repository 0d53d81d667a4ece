package nri

import (
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

// addedDevices refuses a block device another plugin added (NRI's
// device-injector takes any a pod's annotations name: /dev/sdb, type b),
// and a device cgroup rule that lets the container use block devices
// (type b, or a: all), which with CAP_MKNOD (containerd's default) makes
// any disk's node: the disk that holds the image stores gives the pod
// every layer, a signed image's snapshot too, to rewrite. Character
// devices (a GPU's /dev/nvidia0) and FIFOs pass: they hold no image; a
// device of any other type is refused as a doubt. owners names
// the plugin, where NRI says.
func addedDevices(id string, adj *api.ContainerAdjustment, owners *api.OwningPlugins) error {
	for _, d := range adj.GetLinux().GetDevices() {
		if _, removal := d.IsMarkedForRemoval(); removal || d.GetType() == "c" || d.GetType() == "u" || d.GetType() == "p" {
			continue
		}
		by := "another NRI plugin"
		if owners != nil && owners.Owners != nil {
			if o, ok := owners.DeviceOwner(id, d.GetPath()); ok && o != "" {
				by = fmt.Sprintf("NRI plugin %q", o)
			}
		}
		what := "the block device"
		if d.GetType() != "b" {
			// Its cgroup rule would carry the same type: "" opens every device.
			what = fmt.Sprintf("the device of type %q", d.GetType())
		}
		return fmt.Errorf("%s %s (%d:%d) added by %s may be the disk that holds the image stores, whose layers the container could rewrite", what, d.GetPath(), d.GetMajor(), d.GetMinor(), by)
	}
	for _, r := range adj.GetLinux().GetResources().GetDevices() {
		if !r.GetAllow() || (r.GetType() != "b" && r.GetType() != "a" && r.GetType() != "") {
			continue
		}
		what := "block devices"
		if r.GetType() != "b" {
			what = "every device"
		}
		return fmt.Errorf("the device cgroup rule added by another NRI plugin (allow type %q, access %q) lets the container use %s, the disk that holds the image stores among them, whose layers it could rewrite", r.GetType(), r.GetAccess(), what)
	}
	return nil
}
