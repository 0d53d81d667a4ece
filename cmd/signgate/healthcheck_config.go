package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/signgate/signgate/setup"
)

// healthTargets settles where healthcheck asks: a flag given wins, then
// $SIGNGATE_API_SOCKET for the socket, then the config's api_socket and
// metrics_address, then the defaults. A daemon configured off the defaults
// is asked where it listens, not where it does not. The config is read when
// named (--config or $SIGNGATE_CONFIG: then it must load) or when the
// default one exists.
func healthTargets(c *command, cfgPath string, socket, addr *string) error {
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	envSocket := os.Getenv("SIGNGATE_API_SOCKET")
	if !set["socket"] && envSocket != "" {
		*socket, set["socket"] = envSocket, true
	}
	if set["socket"] && set["address"] {
		return nil
	}
	named := set["config"] || os.Getenv("SIGNGATE_CONFIG") != ""
	if !named {
		if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	cfg, err := setup.Load(cfgPath)
	if err != nil {
		if named {
			return fmt.Errorf("reading the config for the daemon's listeners: %w", err)
		}
		// The default config exists but does not load: the daemon could
		// not have started on it either, so ask the defaults and say so.
		fmt.Fprintf(os.Stderr, "signgate healthcheck: %v; asking the default listeners\n", err)
		return nil
	}
	if !set["socket"] {
		*socket = cfg.Daemon.APISocket
	}
	if !set["address"] {
		*addr = cfg.Daemon.MetricsAddress
	}
	return nil
}
