package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/signgate/signgate/integration/harness"
)

// keepUp, with SIGNGATE_KEEP set, leaves the registry, containerd and
// signgate running after the demo, so a newcomer can try signgate verify
// and inspect on the demo's images, and stops them on Ctrl-C or SIGTERM.
// They are this process's children (and the registry's proxy runs in it),
// so the demo waits rather than exits.
func keepUp(e *harness.Env) {
	step("SIGNGATE_KEEP: leaving the registry, containerd and signgate up")
	// No containers are left running: only the images matter now, and
	// containers would outlive a containerd stopped by Ctrl-C.
	if out, err := e.Crictl("rmp", "-fa"); err != nil {
		fmt.Println(indent("crictl rmp: " + err.Error() + " " + out))
	}
	cfg := filepath.Join(e.Dir, "signgate.toml")
	check(e.RestartSigngate(demoConfig(e))) // without the KMS key: the emulator is gone
	sg := filepath.Join(e.Bin, "signgate")
	fmt.Printf(`   Try, in another shell:
     %[1]s verify --config %[2]s %[3]s/demo/signed:v1
     %[1]s verify --config %[2]s %[3]s/demo/unsigned:v1
     %[1]s inspect --config %[2]s %[3]s/demo/signed:v1
     %[1]s keys list --config %[2]s
     CRI_CONFIG_FILE=/dev/null %[4]s --runtime-endpoint unix://%[5]s images
   The registry is %[3]s, containerd's socket %[5]s, signgate's config %[2]s.
   To stop them all: Ctrl-C here, or kill %[6]d. Their files and logs stay in
   %[7]s (remove it with rm -rf once stopped).
`, sg, cfg, e.Registry, filepath.Join(e.Bin, "crictl"), e.ContainerdSock, os.Getpid(), e.Dir)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Println("\nStopping the registry, containerd and signgate.")
}
