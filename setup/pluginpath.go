package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/signgate/signgate/internal/trustpath"
)

// trustedPath is trustpath.Resolve, naming the plugin in its refusal.
func trustedPath(path string) (string, error) {
	r, err := trustpath.Resolve(path)
	if u := (*trustpath.UntrustedError)(nil); errors.As(err, &u) {
		return "", fmt.Errorf("%v, so another user could replace the plugin", u)
	}
	return r, err
}

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
