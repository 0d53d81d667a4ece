package harness

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushSignedBusybox pushes a busybox image running sleep 3600, built
// through the suite's registry as src, to repo:v1 in reg, signs it there
// with k1 (the cosign legacy tag), and returns its digest.
func (e *Env) PushSignedBusybox(reg *AuthRegistry, src, repo string) (string, error) {
	built, err := PushBusybox(src, "sleep", "3600")
	if err != nil {
		return "", err
	}
	img, err := remote.Image(built)
	if err != nil {
		return "", err
	}
	dst, err := name.ParseReference(reg.Host + "/" + repo + ":v1")
	if err != nil {
		return "", err
	}
	if err := remote.Write(dst, img, reg.Options()...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", dst, err)
	}
	d := dst.Context().Digest(built.DigestStr())
	if err := e.Signers["k1"].SignLegacy(d, reg.Options()...); err != nil {
		return "", fmt.Errorf("signing %s: %w", d, err)
	}
	return built.DigestStr(), nil
}
