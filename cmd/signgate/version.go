package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/signgate/signgate/keystore/kms"
)

// version is set at build time: -ldflags "-X main.version=..." (make does).
var version = "dev"

func printVersion() {
	fmt.Println("signgate", version)
	schemes := strings.Join(kms.Schemes(), ", ")
	if schemes == "" {
		schemes = "none"
	}
	fmt.Println("  kms:     ", schemes)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	fmt.Println("  go:     ", bi.GoVersion)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED":
			fmt.Printf("  %-8s %s\n", s.Key+":", s.Value)
		}
	}
	for _, dep := range bi.Deps {
		switch dep.Path {
		case "github.com/sigstore/cosign/v3", "github.com/sigstore/sigstore", "github.com/containerd/nri", "github.com/google/go-containerregistry":
			fmt.Printf("  %s %s\n", dep.Path, dep.Version)
		}
	}
}
