//go:build !no_azurekms

package main

// The azure KMS provider; build with -tags no_azurekms to leave it out.
import _ "github.com/signgate/signgate/keystore/kms/azurekms"
