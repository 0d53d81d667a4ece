//go:build !no_vaultkms

package main

// The vault KMS provider; build with -tags no_vaultkms to leave it out.
import _ "github.com/signgate/signgate/keystore/kms/vaultkms"
