package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Exit codes of the image verifier, as containerd reads them: 0 allows the
// pull, anything else blocks it.
const (
	VerifierAllow = 0
	VerifierBlock = 1
	VerifierUsage = 2
)

// RunImageVerifier is the pull-time gate: containerd (2.0+) runs every
// executable in its image verifier directory on transfer-service pulls with
// -name, -digest and the descriptor on stdin; exit 0 allows the pull and
// anything else blocks it, with stdout as the reason. It asks the running
// daemon, over its root-only socket, and blocks when it cannot.
//
// It runs once per pull, so it lives here, beside the client, and not in
// the daemon's packages: the signgate-image-verifier binary links only
// this, and starts in a few milliseconds.
func RunImageVerifier(args []string, stdin io.Reader, stdout io.Writer) int {
	fs := flag.NewFlagSet("image-verifier", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = fs.PrintDefaults // signgate image-verifier --help heads it
	imageName := fs.String("name", "", "image name being pulled (set by containerd)")
	digest := fs.String("digest", "", "digest the name resolved to (set by containerd)")
	_ = fs.String("stdin-media-type", "", "media type of the descriptor on stdin (set by containerd)")
	def := os.Getenv("SIGNGATE_API_SOCKET")
	if def == "" {
		def = DefaultSocket
	}
	socket := fs.String("socket", def, "the daemon's API socket")
	timeout := fs.Duration("timeout", 9*time.Second, "how long to wait for the daemon (containerd's default per-verifier timeout is 10s)")
	if err := fs.Parse(args); err != nil {
		return VerifierUsage
	}
	if *imageName == "" || *digest == "" {
		fmt.Fprintln(stdout, "signgate image-verifier: -name and -digest are required")
		return VerifierUsage
	}
	// The descriptor must be the digest we are told about.
	var desc struct {
		Digest string `json:"digest"`
	}
	if b, err := io.ReadAll(io.LimitReader(stdin, 64<<10)); err == nil && len(bytes.TrimSpace(b)) > 0 {
		if json.Unmarshal(b, &desc) != nil || desc.Digest != *digest {
			fmt.Fprintf(stdout, "signgate: the descriptor on stdin does not match -digest %s; blocking the pull\n", *digest)
			return VerifierBlock
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var resp VerifyResponse
	if err := Call(ctx, *socket, "POST", PathVerify, VerifyRequest{Image: *imageName, Digest: *digest}, &resp); err != nil {
		fmt.Fprintf(stdout, "signgate: cannot reach the signgate daemon at %s (%v); blocking the pull of %s\n", *socket, err, *imageName)
		return VerifierBlock
	}
	if !resp.Allowed {
		fmt.Fprintf(stdout, "signgate denied image %s@%s: %s\n", *imageName, *digest, resp.Reason)
		return VerifierBlock
	}
	fmt.Fprintf(stdout, "signgate: %s\n", resp.Reason)
	return VerifierAllow
}
