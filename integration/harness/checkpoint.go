package harness

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"slices"
)

// CheckpointArchive writes, in a new file in dir named as os.CreateTemp
// names pattern's, a checkpoint archive in the layout a runtime's CRI
// checkpoint writes: each of dumps (config.dump, spec.dump...) as JSON,
// the CRIU directory, and a rootfs-diff.tar that holds bin/evil, a program
// no signed image has. It returns the archive's path.
func CheckpointArchive(dir, pattern string, dumps map[string]any) (string, error) {
	var diff bytes.Buffer // what the restore would put over the signed root filesystem
	dw := tar.NewWriter(&diff)
	evil := []byte("#!/bin/sh\necho not from any signed image\n")
	if err := dw.WriteHeader(&tar.Header{Name: "bin/evil", Mode: 0o755, Size: int64(len(evil)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := dw.Write(evil); err != nil {
		return "", err
	}
	if err := dw.Close(); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(n string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	names := make([]string, 0, len(dumps))
	for n := range dumps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := json.Marshal(dumps[n])
		if err != nil {
			return "", err
		}
		if err := add(n, b); err != nil {
			return "", err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "checkpoint/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return "", err
	}
	if err := add("rootfs-diff.tar", diff.Bytes()); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(buf.Bytes()); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}
