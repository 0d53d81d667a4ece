package main

import (
	"fmt"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/setup"
)

// detectRuntime is doctor under [daemon.runtime] name = "auto": the runtime
// is the one NRI connected the running signgate to, as its /readyz names
// it; doctor then checks that runtime as if it were named. With signgate
// not connected there is nothing to tell which runtime to check.
func detectRuntime(rep *doctorOutput, cfg *setup.Config) int {
	running := askRunning(cfg.Daemon)
	name, version, ok := running.RuntimeSeen()
	for c, n := range config.NRINames {
		if ok && n == name {
			rep.Runtime, rep.Detected = c, name+" "+version
			cfg.Daemon.Runtime.Name = c
			return exitOK
		}
	}
	rep.Error = fmt.Sprintf("[daemon.runtime] name = %q, and signgate names no runtime it is connected to (%s): doctor cannot tell which runtime to check; start signgate, or name the runtime", config.RuntimeAuto, running.Detail)
	return exitUsage
}
