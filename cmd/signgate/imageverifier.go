package main

import (
	"os"

	"github.com/signgate/signgate/localapi"
)

// runImageVerifier is the pull-time gate (localapi.RunImageVerifier). The
// lighter signgate-image-verifier binary does the same for a fraction of
// the start-up cost; this stays for links made to signgate itself.
func runImageVerifier(args []string) int {
	return localapi.RunImageVerifier(args, os.Stdin, os.Stdout)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
