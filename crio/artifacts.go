package crio

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/imagestore"
)

// artifactsDir is the directory CRI-O keeps OCI artifacts in, under its
// storage root and under each of [crio.runtime] additional_artifact_stores
// (internal/ociartifact/store.go, NewStore, v1.35.2). With [crio.image]
// oci_artifact_mount_support on (CRI-O's default), an image volume naming
// an artifact is mounted as one plain bind per artifact file, from
// <store>/artifacts/blobs/sha256/<hex> (mountArtifact, BlobMountPaths):
// read-only but executable, and signed by nothing signgate checks. Until
// signgate verifies artifacts, a mount from there is refused.
const artifactsDir = "artifacts"

// artifactRefusal is the error for the mount m, which shows p, a path in
// the artifact store dir.
func artifactRefusal(m *api.Mount, p, dir string) error {
	return fmt.Errorf("the mount at %s (source %s) shows %s, in CRI-O's OCI artifact store %s: an OCI artifact volume, which signgate cannot verify yet; "+
		"set [crio.image] oci_artifact_mount_support = false to have CRI-O refuse artifact volumes itself", m.GetDestination(), m.GetSource(), p, dir)
}

// mountPaths are the paths m names: its source and, as the kernel reads
// them, its options' (an overlay's lowerdirs).
func mountPaths(m *api.Mount) []string {
	ps := []string{m.GetSource()}
	for _, o := range m.GetOptions() {
		ps = append(ps, imagestore.OptionPaths(o)...)
	}
	return ps
}

// hasArtifactsDir: p has an "artifacts" component, as every path in an
// artifact store has. Most mounts do not, and CRI-O's config is read for
// none of them.
func hasArtifactsDir(p string) bool {
	return strings.Contains(p, artifactsDir) && slices.Contains(strings.Split(p, "/"), artifactsDir)
}

// inArtifactStores refuses a mount that shows a file or directory in the
// artifacts directory of one of CRI-O's additional artifact stores (the
// one under the storage root is inStorageRoot's). The stores are read from
// CRI-O's config, as its image-volumes directory is; a config that cannot
// be read refuses the mount.
func (r *Store) inArtifactStores(m *api.Mount) error {
	ps := mountPaths(m)
	if !slices.ContainsFunc(ps, hasArtifactsDir) {
		return nil
	}
	stores, err := r.Volumes.Stores()
	if err != nil {
		return fmt.Errorf("the mount at %s (source %s) may lie in one of CRI-O's OCI artifact stores: %w", m.GetDestination(), m.GetSource(), err)
	}
	for _, s := range stores {
		dir := filepath.Join(s, artifactsDir)
		dirs := []string{dir}
		// A hostPath arrives with its symlinks resolved.
		if resolved, err := filepath.EvalSymlinks(dir); err == nil && resolved != dir {
			dirs = append(dirs, resolved)
		}
		for _, p := range ps {
			c := path.Clean(p)
			for _, d := range dirs {
				if c == d || strings.HasPrefix(c, d+"/") {
					return artifactRefusal(m, p, d)
				}
			}
		}
	}
	return nil
}

// storesReadTimeout bounds one read of additional_artifact_stores: every
// creation with a mount path component named "artifacts" (an emptyDir so
// named too) waits for it, so it ends well within NRI's default 2 s
// plugin_request_timeout, and the creation is refused by signgate rather
// than timed out by the runtime.
const storesReadTimeout = time.Second

// storesRetry is how long a failed read of the stores is kept: creations
// meanwhile are refused at once with its error, not queued behind another
// read of a config that cannot be read.
const storesRetry = 5 * time.Second

// Stores are CRI-O's [crio.runtime] additional_artifact_stores, read as
// Path reads container_exits_dir: once per NRI connection, again
// storesRetry after a read that failed.
func (v *VolumeDir) Stores() ([]string, error) {
	if v == nil {
		return nil, fmt.Errorf("signgate does not know CRI-O's [crio.runtime] additional_artifact_stores (no CRI-O config to read)")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.storesKnown {
		return v.stores, nil
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if v.storesErr != nil && now().Sub(v.storesErrAt) < storesRetry {
		return nil, v.storesErr
	}
	stores, err := v.readStoresOnce()
	if err != nil {
		v.storesErr, v.storesErrAt = err, now()
		return nil, err
	}
	v.storesKnown, v.stores, v.storesErr = true, stores, nil
	return stores, nil
}

// readStoresOnce reads the stores within storesReadTimeout and checks them.
func (v *VolumeDir) readStoresOnce() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storesReadTimeout)
	defer cancel()
	read := v.ReadStores
	if read == nil {
		read = v.readStores
	}
	stores, where, err := read(ctx)
	if err != nil {
		return nil, fmt.Errorf("signgate cannot tell CRI-O's [crio.runtime] additional_artifact_stores: %w", err)
	}
	for _, s := range stores {
		if !filepath.IsAbs(s) {
			return nil, fmt.Errorf("CRI-O's [crio.runtime] additional_artifact_stores entry %q (%s) is not an absolute path", s, where)
		}
	}
	return stores, nil
}

func (v *VolumeDir) readStores(ctx context.Context) ([]string, string, error) {
	c, where, err := v.config(ctx)
	if err != nil {
		return nil, "", err
	}
	return c.ArtifactStores, where, nil
}
