package crio

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/signgate/signgate/doctor"
)

// defaultExitsDir is CRI-O's container_exits_dir when nothing sets it
// (pkg/config/config_unix.go, v1.34 and v1.35).
const defaultExitsDir = "/var/run/crio/exits"

// volumeReadTimeout bounds one read of CRI-O's config for its image-volumes
// directory; a creation naming an image volume waits no longer.
const volumeReadTimeout = 10 * time.Second

// VolumeDir is CRI-O's image-volumes directory, the empty directory CRI-O
// puts under every image volume's layer: filepath.Join(filepath.Dir(
// container_exits_dir), "image-volumes") (server/container_create_linux.go,
// ensureImageVolumesPath). Only an overlay over exactly that directory is
// CRI-O's image volume: one over any other directory shows that
// directory's files too. container_exits_dir is read as RestoreGate reads
// enable_criu_support: CRI-O's running config on crio_socket (which has
// its command line), else CRI-O's files; unset, CRI-O's default. Read once
// per NRI connection; a read that fails is asked again at the next image
// volume, which is refused meanwhile. A dir read wrong refuses genuine
// image volumes; it admits nothing else.
type VolumeDir struct {
	Socket                string // crio_socket; "": CRI-O's files are read
	ConfigFile, ConfigDir string // crio's --config and --config-dir
	// Read is container_exits_dir ("": not set), and where it was read;
	// read's when nil.
	Read func(ctx context.Context) (exits, where string, err error)
	// ReadStores is additional_artifact_stores, and where it was read;
	// readStores's when nil (artifacts.go).
	ReadStores func(ctx context.Context) (stores []string, where string, err error)
	// Now is the clock a failed read of the stores is kept by; time.Now
	// when nil.
	Now func() time.Time

	mu          sync.Mutex
	known       bool
	dir         string
	storesKnown bool
	stores      []string
	storesErr   error     // the last failed read of the stores
	storesErrAt time.Time // when it failed, by Now
}

// Reset forgets the directory: CRI-O may have restarted with another config.
func (v *VolumeDir) Reset() {
	if v == nil {
		return
	}
	v.mu.Lock()
	v.known, v.dir = false, ""
	v.storesKnown, v.stores = false, nil
	v.storesErr = nil
	v.mu.Unlock()
}

// Path is CRI-O's image-volumes directory as CRI-O spells it.
func (v *VolumeDir) Path() (string, error) {
	if v == nil {
		return "", fmt.Errorf("signgate does not know CRI-O's image-volumes directory (no CRI-O config to read)")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.known {
		return v.dir, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), volumeReadTimeout)
	defer cancel()
	read := v.Read
	if read == nil {
		read = v.read
	}
	exits, where, err := read(ctx)
	if err != nil {
		return "", fmt.Errorf("signgate cannot tell CRI-O's image-volumes directory: [crio.runtime] container_exits_dir: %w", err)
	}
	if exits == "" {
		exits = defaultExitsDir
	}
	if !filepath.IsAbs(exits) {
		return "", fmt.Errorf("CRI-O's [crio.runtime] container_exits_dir %q (%s) is not an absolute path", exits, where)
	}
	v.known, v.dir = true, filepath.Join(filepath.Dir(exits), "image-volumes")
	return v.dir, nil
}

// read asks CRI-O's running config, else reads its files.
func (v *VolumeDir) read(ctx context.Context) (string, string, error) {
	c, where, err := v.config(ctx)
	if err != nil {
		return "", "", err
	}
	return c.ExitsDir, where, nil
}

// config is CRI-O's running config, else its files, and where it was read.
func (v *VolumeDir) config(ctx context.Context) (*doctor.CRIO, string, error) {
	if v.Socket != "" {
		c, err := doctor.ReadCRIORunning(ctx, v.Socket)
		if err != nil {
			return nil, "", err
		}
		return c, "CRI-O's running config on " + v.Socket, nil
	}
	c, err := doctor.ReadCRIO(v.ConfigFile, v.ConfigDir)
	if err != nil {
		return nil, "", fmt.Errorf("CRI-O's config (%s, drop-ins under %s): %w", v.ConfigFile, v.ConfigDir, err)
	}
	return c, "CRI-O's files " + v.ConfigFile + " and " + v.ConfigDir, nil
}
