package imagestore

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/<pid>/mountinfo: the device mounted at
// Point, showing the directory Root of the filesystem on it.
type mountEntry struct {
	Dev   string // major:minor
	Root  string // the directory of the device's filesystem shown at Point
	Point string
}

// parseMountinfo reads a mount table in the proc(5) mountinfo format.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; s.Scan(); n++ {
		f := strings.Fields(s.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 5 || !strings.Contains(f[2], ":") {
			return nil, fmt.Errorf("mountinfo line %d is malformed: %q", n, s.Text())
		}
		root, err := unescapeMount(f[3])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		point, err := unescapeMount(f[4])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		out = append(out, mountEntry{Dev: f[2], Root: root, Point: point})
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space, ...).
func unescapeMount(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+4 <= len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// under: p is dir or lies below it (both clean and absolute).
func under(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// covering is the mount that shows p: the deepest mount point above it,
// the last listed of those stacked there (mounted on top).
func covering(mounts []mountEntry, p string) (mountEntry, bool) {
	best, found := mountEntry{}, false
	for _, m := range mounts {
		if under(p, m.Point) && (!found || len(m.Point) >= len(best.Point)) {
			best, found = m, true
		}
	}
	return best, found
}

// resolveBind is the host path of the directory a bind mount shows at p:
// the device and directory on it that the mount table gives for p, seen
// through another mount of that device that is not itself covered at the
// resulting path. The kubelet's subPath mounts (volume-subpaths) are bind
// mounts of the directory the pod named, and the runtime is given only
// their path.
func resolveBind(mounts []mountEntry, p string) (string, error) {
	p = path.Clean(p)
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s is not an absolute path", p)
	}
	c, ok := covering(mounts, p)
	if !ok {
		return "", fmt.Errorf("no mount in the mount table covers %s", p)
	}
	onDev := path.Join(c.Root, strings.TrimPrefix(p, c.Point))
	best := ""
	bestRoot := -1
	for _, m := range mounts {
		if m.Dev != c.Dev || !under(onDev, m.Root) || inSubpaths(m.Point) {
			continue
		}
		host := path.Join(m.Point, strings.TrimPrefix(onDev, m.Root))
		if m.Root == "/" {
			host = path.Join(m.Point, onDev)
		}
		// The view must be the one that shows host: another mount over it
		// would mean the path names something else.
		if top, _ := covering(mounts, host); top != m {
			continue
		}
		if bestRoot < 0 || len(m.Root) < bestRoot {
			best, bestRoot = host, len(m.Root)
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s shows %s of device %s, which is mounted nowhere else in the mount table", p, onDev, c.Dev)
	}
	if inSubpaths(best) {
		// No bind mount there in this table: the kubelet's are in another
		// mount namespace (signgate in a pod without hostPID).
		return "", fmt.Errorf("the mount table shows no bind mount at %s: signgate does not see the node's mounts", p)
	}
	return best, nil
}

// inSubpaths: p lies in a kubelet's volume-subpaths directory
// (<root-dir>/pods/<uid>/volume-subpaths/<volume>/<container>/<n>).
func inSubpaths(p string) bool {
	if !strings.Contains(p, subpathsDir) {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == subpathsDir {
			return true
		}
	}
	return false
}

const subpathsDir = "volume-subpaths"
