package verify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v3/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// FuzzScope checks the glob rules that policies rely on: a pattern without
// '*' matches exactly itself, and '*' never crosses a '/'.
func FuzzScope(f *testing.F) {
	for _, p := range []string{"reg.io/a/*", "**", "*.example.com/**", "localhost:5000/x", "reg.io/a/b"} {
		f.Add(p, "reg.io/a/b")
	}
	f.Fuzz(func(t *testing.T, pattern, repo string) {
		s, err := ParseScope(pattern)
		if err != nil {
			return
		}
		m := s.Matches(repo)
		// Scopes are compared in CanonicalRepo's spelling (lower-case
		// registry, the port as a number, Docker Hub folded).
		norm, _ := normalizeScope(pattern)
		if !strings.Contains(pattern, "*") && m != (norm == repo) {
			t.Fatalf("literal scope %q matched %q: %v", pattern, repo, m)
		}
		if m && !strings.Contains(pattern, "**") && strings.Count(repo, "/") != strings.Count(norm, "/") {
			t.Fatalf("%q matched %q across a '/'", pattern, repo)
		}
	})
}

// FuzzExcerpt: whatever a registry puts in an error, the excerpt is one
// printable line of bounded length.
func FuzzExcerpt(f *testing.F) {
	f.Add("GET http://r/v2/: 500: \x1b[31mboom\r\n" + strings.Repeat("A", 700))
	f.Add("plain")
	f.Fuzz(func(t *testing.T, msg string) {
		e := Excerpt(errors.New(msg))
		if len(e) > maxExcerpt+8 {
			t.Fatalf("excerpt of %d bytes", len(e))
		}
		for _, r := range e {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("excerpt %q holds a control character", e)
			}
		}
	})
}

// FuzzStatement: a bundle's signed statement is parsed without panicking,
// and accepted only when it is cosign's signature predicate over exactly
// this digest.
func FuzzStatement(f *testing.F) {
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://sigstore.dev/cosign/sign/v1","subject":[{"digest":{"sha256":"`+h.Hex+`"}}]}`), "application/vnd.in-toto+json")
	f.Add([]byte(`{"subject":[{"digest":{"sha256":1}}]}`), "application/vnd.in-toto+json")
	f.Fuzz(func(t *testing.T, payload []byte, payloadType string) {
		b := &sgbundle.Bundle{Bundle: &protobundle.Bundle{Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: payloadType}}}}
		if checkStatement(b, h) != nil {
			return
		}
		var st struct {
			PredicateType string `json:"predicateType"`
			Subject       []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(payload, &st); err != nil || st.PredicateType != types.CosignSignPredicateType || payloadType != "application/vnd.in-toto+json" {
			t.Fatalf("accepted %q (%s)", payload, payloadType)
		}
		for _, s := range st.Subject {
			if s.Digest["sha256"] == h.Hex {
				return
			}
		}
		t.Fatalf("accepted a statement for another subject: %q", payload)
	})
}
