package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

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
	merged := map[string]any{}
	c := &CRIO{Files: files, Set: map[string]string{}}
	for _, f := range files {
		m, err := decode(f)
		if err != nil {
			return nil, err
		}
		nri := table(table(m, "crio"), "nri")
		for k := range nri {
			c.Set[keyNRI+k] = f
		}
		for k := range table(nri, "default_validator") {
			c.Set[keyValidator+k] = f
		}
		merge(merged, m)
	}
	nri := table(table(merged, "crio"), "nri")
	val := table(nri, "default_validator")
	wrong := func(key, want string) error {
		return fmt.Errorf("%s: %s is not %s", c.Set[key], key, want)
	}
	if v, ok := nri["enable_nri"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, wrong(keyNRI+"enable_nri", "a boolean")
		}
		c.NRIEnable = &b
	}
	if v, ok := nri["nri_plugin_request_timeout"]; ok {
		s, ok := v.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil {
			return nil, wrong(keyNRI+"nri_plugin_request_timeout", "a duration (\"2s\")")
		}
		c.NRIRequestTimeout = d
	}
	if v, ok := val["nri_enable_default_validator"]; ok {
		if c.Validator, ok = v.(bool); !ok {
			return nil, wrong(keyEnable, "a boolean")
		}
	}
	if v, ok := val["nri_validator_required_plugins"]; ok {
		list, ok := v.([]any)
		if !ok {
			return nil, wrong(keyRequired, "a list of plugin names")
		}
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return nil, wrong(keyRequired, "a list of plugin names")
			}
			c.RequiredPlugins = append(c.RequiredPlugins, s)
		}
	}
	if v, ok := val["nri_validator_tolerate_missing_plugins_annotation"]; ok {
		if c.TolerateAnnotation, ok = v.(string); !ok {
			return nil, wrong(keyTolerate, "a string")
		}
	}
	return c, nil
}

// where says which file set key, or that none did.
func (c *CRIO) where(key string) string {
	if f := c.Set[key]; f != "" {
		return "in " + f
	}
	return "set in no file: CRI-O's default"
}
