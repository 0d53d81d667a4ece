package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestBuildWritesARunnableReproducibleLayout(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signgate")
	content := []byte("\x7fELF pretend signgate")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout")
	d1, err := Build(bin, out, "ghcr.io/signgate/signgate:test", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(d1)
	if err != nil {
		t.Fatalf("the layout does not hold %s: %v", d1, err)
	}
	idx, _ := p.ImageIndex()
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "ghcr.io/signgate/signgate:test" {
		t.Fatalf("index: %+v", im.Manifests)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Entrypoint[0] != "/usr/bin/signgate" || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Fatalf("config: %+v", cf.Config)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "usr/bin/signgate" {
			b, _ := io.ReadAll(tr)
			found = bytes.Equal(b, content) && h.Mode == 0o755
		}
	}
	if !found {
		t.Fatal("usr/bin/signgate is not in the image as built")
	}
	// Reproducible: the same inputs give the same digest.
	d2, err := Build(bin, filepath.Join(dir, "again"), "ghcr.io/signgate/signgate:test", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Fatalf("two builds differ: %s and %s", d1, d2)
	}
}
