package harness

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxLayer holds a static busybox, so images run anywhere without a
// registry on the internet.
func busyboxLayer() (v1.Layer, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	return tarLayer(map[string][]byte{"bin/busybox": bb}, 0o755)
}

func tarLayer(files map[string][]byte, mode int64) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"bin/", "tmp/", "etc/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	for n, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
}

// pushBusybox pushes a busybox image running args to ref; each call makes
// distinct content (and so a distinct digest), like a new build.
func PushBusybox(ref string, args ...string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	bb, err := busyboxLayer()
	if err != nil {
		return name.Digest{}, err
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	uniq, err := tarLayer(map[string][]byte{"etc/build-id": nonce}, 0o644)
	if err != nil {
		return name.Digest{}, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, bb, uniq)
	if err != nil {
		return name.Digest{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return name.Digest{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = append([]string{"/bin/busybox"}, args...)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return name.Digest{}, err
	}
	return pushImage(img, r.String())
}

// PushIndexOf pushes, to ref, an OCI index whose one manifest (for this
// node's platform) is the image m, copying m into ref's repository.
func PushIndexOf(ref string, m name.Digest) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	img, err := remote.Image(m)
	if err != nil {
		return name.Digest{}, err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}},
	})
	if err := remote.WriteIndex(r, idx); err != nil {
		return name.Digest{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// CopyImage writes the image m to ref as it is (same manifest digest).
func CopyImage(m name.Digest, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	img, err := remote.Image(m)
	if err != nil {
		return err
	}
	return remote.Write(r, img)
}

// PushWithDir pushes, to ref, a busybox image that also holds a static
// busybox in the directory dir (any name a tar can hold, a newline
// included), as an image mounted through an image_sub_path would.
func PushWithDir(ref, dir string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return name.Digest{}, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return name.Digest{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/busybox", Mode: 0o755, Size: int64(len(bb)), Typeflag: tar.TypeReg}); err != nil {
		return name.Digest{}, err
	}
	if _, err := tw.Write(bb); err != nil {
		return name.Digest{}, err
	}
	nonce := make([]byte, 16) // distinct content on every call
	_, _ = rand.Read(nonce)
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/build-id", Mode: 0o644, Size: int64(len(nonce)), Typeflag: tar.TypeReg}); err != nil {
		return name.Digest{}, err
	}
	if _, err := tw.Write(nonce); err != nil {
		return name.Digest{}, err
	}
	if err := tw.Close(); err != nil {
		return name.Digest{}, err
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return name.Digest{}, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, l); err != nil {
		return name.Digest{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return name.Digest{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return name.Digest{}, err
	}
	return pushImage(img, r.String())
}
