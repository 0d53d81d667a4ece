package kmstest

import (
	"testing"

	"github.com/signgate/signgate/keystore/kms"
)

// Ref parses a key's uri, with no pin: a bad uri fails the test.
func Ref(t testing.TB, uri string) kms.Ref {
	t.Helper()
	ref, err := kms.Parse(uri, "")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
