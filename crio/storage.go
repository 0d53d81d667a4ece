// Package crio answers, for a container CRI-O creates, what it runs: the
// image it was created from (names, manifest digests, config digest) and the
// layer chain its root filesystem is built on, from CRI-O's own records in
// containers/storage.
//
// The store is read, never opened: containers/storage has no read-only mode
// for a node's primary store, and opening it (storage.GetStore) takes the
// layer store's lock for writing and, on load, deletes layers it finds
// incomplete, which are the ones CRI-O is pulling or creating at that very
// moment. The JSON files it keeps are written whole and renamed into place
// (ioutils.AtomicWriteFile), so a reader without the lock sees one complete
// version of each; big data files are content-addressed and checked against
// their digests here. CRI-O writes a container's layer before the container
// record that names it, and both before NRI's CreateContainer.
package crio

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Storage is where CRI-O's containers/storage keeps its records: crio.conf's
// root, runroot and storage_driver.
type Storage struct {
	Root    string // graph root, /var/lib/containers/storage by default
	RunRoot string // /run/containers/storage by default
	Driver  string // overlay by default
}

// maxRecordBytes caps a JSON record file; maxBigDataBytes a manifest or
// config.
const (
	maxRecordBytes  = 256 << 20
	maxBigDataBytes = 4 << 20
)

// image is containers/storage's image record (images.json).
type image struct {
	ID             string                   `json:"id"`
	Digest         digest.Digest            `json:"digest,omitempty"`
	Names          []string                 `json:"names,omitempty"`
	TopLayer       string                   `json:"layer,omitempty"`
	BigDataNames   []string                 `json:"big-data-names,omitempty"`
	BigDataDigests map[string]digest.Digest `json:"big-data-digests,omitempty"`
}

// layer is its layer record (layers.json).
type layer struct {
	ID                 string        `json:"id"`
	Parent             string        `json:"parent,omitempty"`
	UncompressedDigest digest.Digest `json:"diff-digest,omitempty"`
}

// container is its container record (containers.json).
type container struct {
	ID      string `json:"id"`
	ImageID string `json:"image"`
	LayerID string `json:"layer"`
}

// manifestKeyPrefix names the big data items holding an image's manifests,
// one per digest it was pulled or stored by ("manifest-sha256:...").
const manifestKeyPrefix = "manifest-"

func (s Storage) driver() string {
	if s.Driver == "" {
		return "overlay"
	}
	return s.Driver
}

func (s Storage) dir(root, kind string) string {
	return filepath.Join(root, s.driver()+"-"+kind)
}

func (s Storage) images() ([]image, error) {
	var out []image
	err := readRecords(filepath.Join(s.dir(s.Root, "images"), "images.json"), &out)
	return out, err
}

// layers reads the persistent layers and the volatile ones, kept beside
// them or, with a transient store, under the run root.
func (s Storage) layers() (map[string]layer, error) {
	byID := map[string]layer{}
	for _, p := range []string{
		filepath.Join(s.dir(s.Root, "layers"), "layers.json"),
		filepath.Join(s.dir(s.Root, "layers"), "volatile-layers.json"),
		filepath.Join(s.dir(s.RunRoot, "layers"), "volatile-layers.json"),
	} {
		var ls []layer
		if err := readRecords(p, &ls); err != nil {
			return nil, err
		}
		for _, l := range ls {
			byID[l.ID] = l
		}
	}
	return byID, nil
}

// container finds one container record, persistent or volatile.
func (s Storage) container(id string) (container, error) {
	for _, p := range []string{
		filepath.Join(s.dir(s.Root, "containers"), "containers.json"),
		filepath.Join(s.dir(s.Root, "containers"), "volatile-containers.json"),
		filepath.Join(s.dir(s.RunRoot, "containers"), "volatile-containers.json"),
	} {
		var cs []container
		if err := readRecords(p, &cs); err != nil {
			return container{}, err
		}
		for _, c := range cs {
			if c.ID == id {
				return c, nil
			}
		}
	}
	return container{}, fmt.Errorf("container %s is not in CRI-O's storage (%s)", id, s.Root)
}

// image finds the image record whose ID is id (the config digest's hex).
func (s Storage) image(id string) (image, error) {
	imgs, err := s.images()
	if err != nil {
		return image{}, err
	}
	for _, img := range imgs {
		if img.ID == id {
			return img, nil
		}
	}
	return image{}, fmt.Errorf("image %s is not in CRI-O's storage (%s)", id, s.Root)
}

// readRecords decodes one of the store's JSON files. A file not written
// yet holds no records: CRI-O creates its containers volatile, so
// containers.json may never be written, and anything looked for in a file
// that is absent is not found (and refused).
func readRecords(path string, v any) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading CRI-O's storage: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("reading CRI-O's storage: %s: %w", path, err)
	}
	if len(b) > maxRecordBytes {
		return fmt.Errorf("reading CRI-O's storage: %s is larger than %d bytes", path, maxRecordBytes)
	}
	if len(b) == 0 {
		return nil // created empty, before the first record
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading CRI-O's storage: %s: %w", path, err)
	}
	return nil
}

// bigData reads an image's big data item key, which must have digest d.
func (s Storage) bigData(img image, key string, d digest.Digest) ([]byte, error) {
	p := filepath.Join(s.dir(s.Root, "images"), img.ID, bigDataBaseName(key))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("image %s: %s: %w", img.ID, key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBigDataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("image %s: %s: %w", img.ID, key, err)
	}
	if len(b) > maxBigDataBytes {
		return nil, fmt.Errorf("image %s: %s is larger than %d bytes", img.ID, key, maxBigDataBytes)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("image %s: %s: bad digest %q", img.ID, key, d)
	}
	if d.Algorithm().FromBytes(b) != d {
		return nil, fmt.Errorf("image %s: %s does not match its digest %s", img.ID, key, d)
	}
	return b, nil
}

// bigDataBaseName is containers/storage's file name for a big data key
// (makeBigDataBaseName): the key itself when it is only [a-z0-9.], else
// "=" and its standard base64.
func bigDataBaseName(key string) string {
	for _, c := range key {
		if c != '.' && (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return "=" + base64.StdEncoding.EncodeToString([]byte(key))
		}
	}
	return key
}

// manifestDigests are the digests the image's manifests are stored under:
// each manifest CRI-O pulled it by (an index and the manifest it chose, say).
func (img image) manifestDigests() []digest.Digest {
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	add := func(d digest.Digest) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	add(img.Digest)
	for _, k := range img.BigDataNames {
		if strings.HasPrefix(k, manifestKeyPrefix) {
			add(img.BigDataDigests[k])
		}
	}
	return out
}
