package config

import "path/filepath"

// absPath is [daemon.runtime] crio_config or crio_config_dir: CRI-O's own
// files, on the node, which a path relative to signgate's config would not
// name.
func absPath(p *Problems, key, path string) string {
	if !filepath.IsAbs(path) {
		p.Errorf("%s = %q: want an absolute path (crio's --config or --config-dir)", key, path)
		return ""
	}
	return filepath.Clean(path)
}
