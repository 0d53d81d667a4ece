//go:build !no_awskms

package main

// The aws KMS provider; build with -tags no_awskms to leave it out.
import _ "github.com/signgate/signgate/keystore/kms/awskms"
