package nri

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/nri/pkg/api"
)

// procDevices lists the kernel's device majors by driver name. In a pod
// it is the host kernel's list: the container shares the kernel.
const procDevices = "/proc/devices"

// charClasses is the "Character devices:" section of /proc/devices: the
// driver names each major is registered under. Dynamic majors (bsg,
// nvme-generic, ubi) differ between hosts and boots, and a module loaded
// later adds one, so the list is read per adjustment, not at start.
type charClasses struct {
	names map[int64][]string
	err   error // the list could not be read: a dynamic major's class is unknown
}

// hostCharClasses reads the host kernel's list, only when adj has a
// device, a device cgroup rule or a mount (a bind of a node) to judge.
func hostCharClasses(adj *api.ContainerAdjustment) charClasses {
	if len(adj.GetLinux().GetDevices()) == 0 && len(adj.GetLinux().GetResources().GetDevices()) == 0 && len(adj.GetMounts()) == 0 {
		return charClasses{}
	}
	b, err := os.ReadFile(procDevices)
	if err != nil {
		return charClasses{err: err}
	}
	return parseCharClasses(b)
}

// parseCharClasses reads /proc/devices' text. A list without the section
// is an error: the classes are then unknown.
func parseCharClasses(b []byte) charClasses {
	names := map[int64][]string{}
	in, seen := false, false
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "Character devices:":
			in, seen = true, true
			continue
		case strings.HasSuffix(line, "devices:"):
			in = false
			continue
		case !in || line == "":
			continue
		}
		num, name, ok := strings.Cut(line, " ")
		major, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return charClasses{err: fmt.Errorf("%s: unreadable line %q", procDevices, line)}
		}
		names[major] = append(names[major], strings.TrimSpace(name))
	}
	if !seen {
		return charClasses{err: fmt.Errorf("%s has no character devices section", procDevices)}
	}
	return charClasses{names: names}
}

// Majors fixed by the kernel's device list (Documentation/admin-guide/devices.txt),
// refused even when /proc/devices cannot be read.
const (
	memMajor = 1   // 1 /dev/mem, 2 /dev/kmem, 4 /dev/port; 3 null, 5 zero, 8 random, 9 urandom are harmless
	sgMajor  = 21  // SCSI generic: writes a disk's blocks without CAP_SYS_RAWIO
	mtdMajor = 90  // flash
	rawMajor = 162 // raw block
)

// rawClass says whether a char device name from /proc/devices reads or
// writes a disk's blocks or the host's memory: SCSI and block SG (sg,
// bsg), NVMe passthrough (nvme-generic /dev/ng0n1 writes since Linux 6.2;
// nvme, the controller, passes admin commands), raw, flash (mtd, ubi),
// device DAX (persistent memory, a disk on some hosts), and mem.
func rawClass(name string) bool {
	switch name {
	case "sg", "bsg", "ng", "nvme-generic", "nvme", "raw", "mtd", "dax", "mem":
		return true
	}
	return strings.HasPrefix(name, "ubi")
}

// dynamicChar: the kernel hands this major out at run time
// (fs/char_dev.c: 234-254, then 384-511), so only /proc/devices tells
// its class.
func dynamicChar(major int64) bool {
	return (major >= 234 && major <= 254) || (major >= 384 && major <= 511)
}

// rawMemMinor: mem's minors that give the host's memory or I/O ports.
func rawMemMinor(minor int64) bool {
	return minor == 1 || minor == 2 || minor == 4
}

// refusedChar says why the char device major:minor may not be used, or
// "". minor < 0 is every minor (a cgroup rule's wildcard).
func (c charClasses) refusedChar(major, minor int64) string {
	if major < 0 { // a rule; a mknod-only one is not judged (refusedRule)
		return "every character device, among them the disks' SCSI and NVMe passthrough (/dev/sg*, /dev/ng*) and /dev/mem; with CAP_MKNOD, containerd's default, the container makes their nodes"
	}
	if major == memMajor {
		if minor < 0 || rawMemMinor(minor) {
			return "the host's memory or I/O ports (/dev/mem, /dev/kmem, /dev/port, major 1)"
		}
		return ""
	}
	switch major {
	case sgMajor, mtdMajor, rawMajor:
		return fmt.Sprintf("a disk's blocks (major %d: SCSI generic, flash or raw)", major)
	}
	for _, n := range c.names[major] {
		if rawClass(n) {
			return fmt.Sprintf("a disk's blocks or the host's memory (major %d is %q in %s)", major, n, procDevices)
		}
	}
	if c.err != nil && dynamicChar(major) {
		return fmt.Sprintf("a device whose class signgate cannot tell (major %d is handed out at run time, and %v)", major, c.err)
	}
	return ""
}

// rawDevicePath: p names a node that gives a disk's blocks or the host's
// memory, whatever major it is given (/dev/sgx_enclave, Intel SGX, is not
// /dev/sg0).
func rawDevicePath(p string) bool {
	p = path.Clean(p)
	switch p {
	case "/dev/mem", "/dev/kmem", "/dev/port":
		return true
	}
	for _, dir := range []string{"/dev/bsg", "/dev/raw", "/dev/mtd", "/dev/ubi", "/dev/dax"} {
		if strings.HasPrefix(p, dir) {
			return true
		}
	}
	for _, pre := range []string{"/dev/sg", "/dev/ng", "/dev/nvme"} {
		if rest, ok := strings.CutPrefix(p, pre); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return true
		}
	}
	return false
}
