package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/signgate/signgate/setup"
)

// watchFiles reloads when the config file, or a key or certificate file it
// names, changes ([daemon] watch_config). A Kubernetes ConfigMap or Secret
// volume is updated in place by the kubelet and signals nobody: without
// this, an edited policy would wait for the pod's next restart. Content,
// not modification times, is compared: the kubelet swaps a symlink.
func (d *Daemon) watchFiles(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.watchTick()
	}
}

// watchTick is one look at the files: a reload if any changed.
func (d *Daemon) watchTick() {
	if fingerprint(d.config()) == d.loaded.Load() {
		return
	}
	d.log.Info("config or key files changed; reloading", "config", d.path)
	_ = d.Reload()
}

// fingerprint hashes the config file and every key, certificate and trust
// root file it names; a file that cannot be read counts as its error.
func fingerprint(cfg *setup.Config) string {
	h := sha256.New()
	files := []string{cfg.Path}
	for _, k := range cfg.Keys {
		if k.Path != "" {
			files = append(files, k.Path)
		}
	}
	if cfg.Source != nil { // the policy source's signers, read from the local file
		files = append(files, cfg.Source.SignerFiles()...)
	}
	for _, c := range cfg.Certs {
		if c.Path != "" {
			files = append(files, c.Path)
		}
	}
	// Not the trust roots kept from TUF: the refresh loop loads them, and
	// rewrites them on every update (their staleness counts from it).
	tuf := map[string]bool{}
	for _, src := range cfg.TUF {
		tuf[src.Name] = true
	}
	for _, n := range slices.Sorted(maps.Keys(cfg.TrustRoots)) {
		if !tuf[n] {
			files = append(files, cfg.TrustRoots[n].Source)
		}
	}
	for _, p := range files {
		io.WriteString(h, p+"\x00")
		f, err := os.Open(p)
		if err != nil {
			io.WriteString(h, "error: "+err.Error())
		} else {
			_, _ = io.Copy(h, io.LimitReader(f, 16<<20))
			f.Close()
		}
		io.WriteString(h, "\x00")
	}
	return hex.EncodeToString(h.Sum(nil))
}
