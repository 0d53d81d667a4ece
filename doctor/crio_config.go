package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// crioTOML is the part of CRI-O's tomlConfig (pkg/config/config.go,
// internal/config/nri/nri.go, v1.35.2) doctor reads, decoded as CRI-O
// decodes it: BurntSushi/toml into a struct, which matches a key to a
// field case-insensitively (NRI_ENABLE_DEFAULT_VALIDATOR sets
// nri_enable_default_validator), each file decoded over the last.
type crioTOML struct {
	Crio struct {
		Runtime struct {
			CRIUSupport *bool   `toml:"enable_criu_support"`
			ExitsDir    *string `toml:"container_exits_dir"`
			// additional_artifact_stores: read-only OCI artifact stores.
			ArtifactStores *[]string `toml:"additional_artifact_stores"`
		} `toml:"runtime"`
		Image struct {
			PauseImage     *string `toml:"pause_image"`
			ArtifactMounts *bool   `toml:"oci_artifact_mount_support"`
		} `toml:"image"`
		NRI struct {
			Enabled          *bool          `toml:"enable_nri"`
			PluginDir        *string        `toml:"nri_plugin_dir"`
			RequestTimeout   *time.Duration `toml:"nri_plugin_request_timeout"`
			DefaultValidator struct {
				Enable          *bool     `toml:"nri_enable_default_validator"`
				RequiredPlugins *[]string `toml:"nri_validator_required_plugins"`
				Tolerate        *string   `toml:"nri_validator_tolerate_missing_plugins_annotation"`
			} `toml:"default_validator"`
		} `toml:"nri"`
	} `toml:"crio"`
}

// ReadCRIO reads CRI-O's configuration as CRI-O does (its criocli and
// pkg/config, v1.34 and v1.35): the config file, when it exists, then every
// file under the drop-in directory, whatever its name, walked recursively in
// lexical order; each file's keys replace the same keys set before (a list
// is replaced whole, a table key by key). Either may be absent, not both. A
// file CRI-O could not read or decode is an error naming it, as it stops
// CRI-O from starting.
func ReadCRIO(path, dir string) (*CRIO, error) {
	files := []string{}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// filepath.Walk, as CRI-O's UpdateFromPath: a symlink is taken as a
	// file, so a drop-in directory that is a symlink fails CRI-O too.
	err := filepath.Walk(dir, func(p string, info fs.FileInfo, err error) error {
		switch {
		case err != nil && p == dir && errors.Is(err, fs.ErrNotExist):
			return filepath.SkipDir
		case err != nil:
			return err
		case !info.IsDir():
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("CRI-O's drop-in directory %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("neither %s nor any file under %s exists", path, dir)
	}
	var t crioTOML
	c := &CRIO{Files: files, Set: map[string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := decodeCRIO(string(b), f, &t, c.Set); err != nil {
			return nil, err
		}
	}
	c.fill(&t)
	return c, nil
}

// decodeCRIO decodes one file's text over t, as CRI-O does, and records in
// set which keys it set, by their lower-case dotted names. Two keys of one
// table that differ only in case are an error: which one CRI-O keeps
// depends on Go's map order.
func decodeCRIO(text, name string, t *crioTOML, set map[string]string) error {
	md, err := toml.Decode(text, t)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	seen := map[string]string{}
	for _, k := range md.Keys() {
		dotted := strings.ToLower(k.String())
		if other, ok := seen[dotted]; ok && other != k.String() {
			return fmt.Errorf("%s: %s and %s differ only in case: CRI-O keeps either", name, other, k)
		}
		seen[dotted] = k.String()
		set[dotted] = name
	}
	return nil
}

// fill takes what doctor reads from the decoded config.
func (c *CRIO) fill(t *crioTOML) {
	nri := t.Crio.NRI
	c.NRIEnable = nri.Enabled
	if nri.RequestTimeout != nil {
		c.NRIRequestTimeout = *nri.RequestTimeout
	}
	if nri.PluginDir != nil {
		c.PluginDir = *nri.PluginDir
	}
	c.CRIUSupport = t.Crio.Runtime.CRIUSupport
	if t.Crio.Runtime.ExitsDir != nil {
		c.ExitsDir = *t.Crio.Runtime.ExitsDir
	}
	if t.Crio.Runtime.ArtifactStores != nil {
		c.ArtifactStores = *t.Crio.Runtime.ArtifactStores
	}
	c.ArtifactMounts = t.Crio.Image.ArtifactMounts
	if t.Crio.Image.PauseImage != nil {
		c.PauseImage = *t.Crio.Image.PauseImage
	}
	v := nri.DefaultValidator
	if v.Enable != nil {
		c.Validator = *v.Enable
	}
	if v.RequiredPlugins != nil {
		c.RequiredPlugins = *v.RequiredPlugins
	}
	if v.Tolerate != nil {
		c.TolerateAnnotation = *v.Tolerate
	}
}

// where says which file set key, or that none did.
func (c *CRIO) where(key string) string {
	if f := c.Set[key]; f != "" {
		return "in " + f
	}
	return "set in no file: CRI-O's default"
}
