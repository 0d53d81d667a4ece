package nri

import (
	"context"
	"log/slog"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// platform is the digest of the manifest under img that runs, bound to
// the layers (and config, when known) that run, for the policies that
// count its signatures; "" when it cannot be told, and then only the
// index's signatures count. Called once img is shown to be what runs, so
// its content has been read already.
func (p *Plugin) platform(ctx context.Context, chain, config digest.Digest, img name.Digest) string {
	d, err := p.Resolver.PlatformManifest(ctx, chain, config, img)
	if err != nil {
		slog.Debug("cannot tell which platform manifest runs; only the index's signatures count", "image", img.String(), "err", err)
		return ""
	}
	return d.String()
}
