package main

import (
	"fmt"
	"os"
)

func runDaemon(args []string) int {
	fmt.Fprintln(os.Stderr, "signgate run: not yet implemented")
	return exitUsage
}
