package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/doctor"
)

// runDoctor asks the node's containerd for its version, reads its
// configuration, and says which of signgate's guarantees hold here. It
// exits 1 when one that is not optional does not.
func runDoctor(args []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	cfgPath := fs.String("config", envOr("SIGNGATE_CONFIG", config.DefaultPath), "signgate's config (for containerd's socket and the decision deadline)")
	ctdConfig := fs.String("containerd-config", "/etc/containerd/config.toml", "containerd's config file (its imports are read too)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	version, err := containerdVersion(cfg.Daemon.ContainerdSocket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: asking containerd at %s for its version: %v\n", cfg.Daemon.ContainerdSocket, err)
		return exitUsage
	}
	node := doctor.Node{Version: version, Deadline: cfg.Daemon.DecisionDeadline, Plugin: cfg.Daemon.PluginName, Now: time.Now()}
	for _, src := range cfg.TUF {
		tr := cfg.TrustRoots[src.Name]
		node.TrustRoots = append(node.TrustRoots, doctor.TrustRoot{Name: src.Name, Mirror: src.Mirror, Loaded: tr.Material != nil,
			Verified: tr.Verified, NotAfter: tr.NotAfter, Limit: tr.Limit})
	}
	node.Listeners = probeListeners(cfg.Daemon)
	fmt.Printf("containerd %s at %s\n", version, cfg.Daemon.ContainerdSocket)
	if node.Config, err = doctor.ReadContainerd(*ctdConfig); err != nil {
		fmt.Printf("WARNING: containerd's config: %v (judging by containerd's defaults)\n", err)
	} else {
		fmt.Printf("config %v\n", node.Config.Files)
	}
	code := exitOK
	for _, f := range doctor.Check(node) {
		mark := "OK  "
		switch {
		case !f.Holds && f.Optional:
			mark = "--  "
		case !f.Holds:
			mark, code = "NO  ", exitDenied
		}
		fmt.Printf("%s %s: %s\n", mark, f.Guarantee, f.Detail)
	}
	return code
}

func containerdVersion(socket string) (string, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := versionapi.NewVersionClient(conn).Version(ctx, &emptypb.Empty{})
	if err != nil {
		return "", err
	}
	return resp.GetVersion(), nil
}
