package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/crio"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/setup"
)

// crioPaths are CRI-O's config file, drop-in directory and socket; sock
// "" when --crio-socket was not given, and file and dir replaced by
// crio_config and crio_config_dir when their flags were not.
type crioPaths struct {
	file, dir, sock     string
	fileGiven, dirGiven bool
}

// crioSocketFor is the socket doctor asks CRI-O's running config on: the
// one --crio-socket names, else the one signgate's config names
// (crio_socket: in the DaemonSet's pod, where the chart mounts it), else
// CRI-O's default.
func crioSocketFor(flag string, rt config.Runtime) string {
	switch {
	case flag != "":
		return flag
	case rt.CRIOSocket != "":
		return rt.CRIOSocket
	}
	return doctor.DefaultCRIOSocket
}

// crioReport is doctor on a CRI-O node: CRI-O's configuration and storage
// instead of containerd's version and configuration.
func crioReport(rep *doctorOutput, cfg *setup.Config, crioConfig crioPaths) int {
	rt := cfg.Daemon.Runtime
	rep.Socket = rt.CRIOStorageRoot
	node := doctor.Node{Runtime: config.RuntimeCRIO, Deadline: cfg.Daemon.DecisionDeadline, Plugin: cfg.Daemon.PluginName, Now: time.Now()}
	node.PolicySource = doctorPolicySource(cfg)
	_, err := os.Stat(filepath.Join(rt.CRIOStorageRoot, rt.CRIOStorageDriver+"-images"))
	node.CRIOStorageReadable = err == nil
	for _, src := range cfg.TUF {
		tr := cfg.TrustRoots[src.Name]
		node.TrustRoots = append(node.TrustRoots, doctor.TrustRoot{Name: src.Name, Mirror: src.Mirror, Loaded: tr.Material != nil,
			Verified: tr.Verified, NotAfter: tr.NotAfter, Limit: tr.Limit})
	}
	node.CRIOStop = crioStop(cfg)
	node.CRIORestoreUnsafe = cfg.Daemon.Runtime.CRIOCheckpointRestoreUnsafe
	node.Listeners = probeListeners(cfg.Daemon)
	running := askRunning(cfg.Daemon)
	node.Running = &running
	if !crioConfig.fileGiven {
		crioConfig.file = rt.CRIOConfig
	}
	if !crioConfig.dirGiven {
		crioConfig.dir = rt.CRIOConfigDir
	}
	if node.CRIOFiles, err = doctor.ReadCRIO(crioConfig.file, crioConfig.dir); err != nil {
		rep.ConfigError = err.Error()
	} else {
		rep.ConfigFiles = node.CRIOFiles.Files
	}
	// What CRI-O runs, from CRI-O itself, over the files: only it knows
	// its command line, environment, and when it read the files.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if node.CRIO, err = doctor.ReadCRIORunning(ctx, crioSocketFor(crioConfig.sock, rt)); err != nil {
		node.CRIO, node.CRIORunningErr = node.CRIOFiles, err.Error()
	}
	return rep.add(doctor.Check(node))
}

// crioStop asks CRI-O's CRI, at the socket crio_socket names, for its
// version: the socket signgate would stop a container through.
func crioStop(cfg *setup.Config) doctor.CRIOStop {
	s := doctor.CRIOStop{Socket: cfg.Daemon.Runtime.CRIOSocket}
	for _, p := range cfg.File.Policy {
		if cfg.Running.For(p.Name) == config.RunningStop {
			s.Policies = append(s.Policies, p.Name)
		}
	}
	if s.Socket == "" {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &crio.CRI{Socket: s.Socket}
	defer c.Close()
	if v, err := c.Version(ctx); err != nil {
		s.Err = err.Error()
	} else {
		s.Answered = v
	}
	return s
}
