// Command signgate-image-verifier is signgate's pull-time gate, for
// containerd's image verifier directory: containerd runs it once per pull,
// so it links nothing but the client of the daemon's local API and starts
// in a few milliseconds (the signgate binary initialises every KMS and
// signature SDK first). It asks the running daemon and blocks the pull when
// the daemon denies the image or cannot be reached.
package main

import (
	"os"

	"github.com/signgate/signgate/localapi"
)

func main() {
	os.Exit(localapi.RunImageVerifier(os.Args[1:], os.Stdin, os.Stdout))
}
