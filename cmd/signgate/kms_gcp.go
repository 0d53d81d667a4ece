//go:build !no_gcpkms

package main

// The gcp KMS provider; build with -tags no_gcpkms to leave it out.
import _ "github.com/signgate/signgate/keystore/kms/gcpkms"
