// Command image builds signgate's container image without a Docker engine:
// the static binary and the CA bundle on an empty base, written as an OCI
// image layout. Builds are reproducible (fixed timestamps), so the digest the
// DaemonSet pins can be rebuilt and checked.
//
//	go run ./packaging/image -binary _output/bin/signgate -out _output/image -tag ghcr.io/signgate/signgate:0.1.0
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const caBundle = "/etc/ssl/certs/ca-certificates.crt"

func main() {
	binary := flag.String("binary", "_output/bin/signgate", "a static (CGO_ENABLED=0) signgate binary")
	out := flag.String("out", "_output/image", "the OCI image layout to write")
	tag := flag.String("tag", "ghcr.io/signgate/signgate:dev", "the reference recorded in the layout")
	flag.Parse()
	d, err := Build(*binary, *out, *tag, runtime.GOARCH)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s in %s\n", *tag, d, *out)
}

// Build writes the image to an OCI layout at out and returns its digest.
func Build(binary, out, tag, arch string) (v1.Hash, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return v1.Hash{}, err
	}
	files := []file{{"usr/bin/signgate", bin, 0o755}}
	if ca, err := os.ReadFile(caBundle); err == nil {
		files = append(files, file{"etc/ssl/certs/ca-certificates.crt", ca, 0o644})
	}
	layer, err := tarLayer(files)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return v1.Hash{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{"/usr/bin/signgate"}
	cf.Config.Cmd = []string{"run", "--config", "/etc/signgate/config.toml"}
	cf.Config.User = "0"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":  "signgate",
		"org.opencontainers.image.source": "https://github.com/signgate/signgate",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(out); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

type file struct {
	name string
	data []byte
	mode int64
}

func tarLayer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	for _, f := range files {
		for i := range f.name {
			if f.name[i] == '/' && !dirs[f.name[:i+1]] {
				dirs[f.name[:i+1]] = true
				if err := tw.WriteHeader(&tar.Header{Name: f.name[:i+1], Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
					return nil, err
				}
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
}
