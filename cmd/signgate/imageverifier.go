package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/signgate/signgate/localapi"
)

const imageVerifierHelp = `usage: signgate image-verifier -name N -digest D [--socket S] [--timeout T]

The pull-time gate: containerd (2.1+) runs it from its image verifier
directory on every pull through the transfer service, with the image's
name and digest; it asks the running daemon over its API socket and blocks
the pull unless the daemon allows the image. A link to this binary there is
enough (containerd runs it as <link> -name N -digest D).

Exit 0: allowed; 1: blocked (denied, or the daemon cannot be reached);
2: usage error.
`

// runImageVerifier is the pull-time gate (localapi.RunImageVerifier). The
// lighter signgate-image-verifier binary does the same for a fraction of
// the start-up cost; this stays for links made to signgate itself.
func runImageVerifier(args []string) int {
	if isHelp(args) {
		fmt.Print(imageVerifierHelp)
		fmt.Println("\nflags:")
		localapi.RunImageVerifier([]string{"-h"}, strings.NewReader(""), os.Stdout)
		return exitOK
	}
	return localapi.RunImageVerifier(args, os.Stdin, os.Stdout)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
