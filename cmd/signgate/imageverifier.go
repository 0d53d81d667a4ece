package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/localapi"
)

// runImageVerifier is the pull-time gate: containerd (2.1+) runs every
// executable in its image verifier directory on transfer-service pulls with
// -name, -digest and the descriptor on stdin; exit 0 allows the pull and
// anything else blocks it, with stdout as the reason. signgate asks the
// running daemon, over its root-only socket, and blocks when it cannot.
func runImageVerifier(args []string) int {
	fs := flag.NewFlagSet("image-verifier", flag.ContinueOnError)
	imageName := fs.String("name", "", "image name being pulled (set by containerd)")
	digest := fs.String("digest", "", "digest the name resolved to (set by containerd)")
	_ = fs.String("stdin-media-type", "", "media type of the descriptor on stdin (set by containerd)")
	socket := fs.String("socket", envOr("SIGNGATE_API_SOCKET", config.DefaultAPISocket), "the daemon's API socket")
	timeout := fs.Duration("timeout", 9*time.Second, "how long to wait for the daemon (containerd's default per-verifier timeout is 10s)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *imageName == "" || *digest == "" {
		fmt.Println("signgate image-verifier: -name and -digest are required")
		return exitUsage
	}
	// The descriptor must be the digest we are told about.
	var desc struct {
		Digest string `json:"digest"`
	}
	if b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10)); err == nil && len(bytes.TrimSpace(b)) > 0 {
		if json.Unmarshal(b, &desc) != nil || desc.Digest != *digest {
			fmt.Printf("signgate: the descriptor on stdin does not match -digest %s; blocking the pull\n", *digest)
			return exitDenied
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	resp, err := askDaemon(ctx, *socket, localapi.VerifyRequest{Image: *imageName, Digest: *digest})
	if err != nil {
		fmt.Printf("signgate: cannot reach the signgate daemon at %s (%v); blocking the pull of %s\n", *socket, err, *imageName)
		return exitDenied
	}
	if !resp.Allowed {
		fmt.Printf("signgate denied image %s@%s: %s\n", *imageName, *digest, resp.Reason)
		return exitDenied
	}
	fmt.Printf("signgate: %s\n", resp.Reason)
	return exitOK
}

func askDaemon(ctx context.Context, socket string, req localapi.VerifyRequest) (*localapi.VerifyResponse, error) {
	var out localapi.VerifyResponse
	if err := localapi.Call(ctx, socket, "POST", localapi.PathVerify, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
