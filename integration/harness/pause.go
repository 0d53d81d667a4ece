package harness

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// SignPause signs the suite's sandbox image (Registry/pause:1.0) with k1
// and returns its digest, for tests in which the sandbox is verified.
func (e *Env) SignPause() (name.Digest, error) {
	ref, err := name.ParseReference(e.Registry + "/pause:1.0")
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := remote.Head(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: %w", ref, err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	if err := e.Signers["k1"].SignLegacy(d); err != nil {
		return name.Digest{}, fmt.Errorf("signing %s: %w", d, err)
	}
	return d, nil
}
