package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"
)

// logKinds are the Rekor entry kinds cosign signatures and attestations
// use. A signature carrying an entry of any other kind is refused before
// the entry is parsed: Rekor's parsers for the other kinds (rekord's PGP
// keys, through the frozen golang.org/x/crypto/openpgp, among them) never
// see a registry's bytes.
var logKinds = map[string]bool{"hashedrekord": true, "dsse": true, "intoto": true}

// errLogKind: a transparency log entry of a kind no cosign signature uses.
var errLogKind = errors.New("transparency log entry of a kind no cosign signature uses")

// checkLogKind reads only the kind of a canonicalized Rekor entry body.
func checkLogKind(body []byte) error {
	var e struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("%w: unreadable (%w)", errLogKind, err)
	}
	if !logKinds[e.Kind] {
		return fmt.Errorf("%w: %q", errLogKind, e.Kind)
	}
	return nil
}

// checkLegacyLogKind checks the Rekor bundle annotation of a .sig layer,
// whose body is base64.
func checkLegacyLogKind(body any) error {
	s, ok := body.(string)
	if !ok {
		return fmt.Errorf("%w: a body that is not a string", errLogKind)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: a body that is not base64", errLogKind)
	}
	return checkLogKind(raw)
}

// fetchBundle reads a Sigstore bundle stored as an OCI artifact, as
// cosign's ociremote.Bundle does, but checks its log entries' kinds before
// sigstore-go parses them (it does so while loading the bundle).
func fetchBundle(ref name.Digest, ropts []remote.Option) (*sgbundle.Bundle, error) {
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != 1 {
		return nil, errors.New("expected exactly one layer")
	}
	mt, err := layers[0].MediaType()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(mt), "application/vnd.dev.sigstore.bundle") {
		return nil, errors.New("expected bundle layer")
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(raw, pb); err != nil {
		return nil, err
	}
	for _, e := range pb.GetVerificationMaterial().GetTlogEntries() {
		if err := checkLogKind(e.GetCanonicalizedBody()); err != nil {
			return nil, err
		}
	}
	b, err := sgbundle.NewBundle(pb)
	if err != nil {
		return nil, err
	}
	if !b.MinVersion("v0.3") {
		return nil, errors.New("bundle version too old")
	}
	return b, nil
}
