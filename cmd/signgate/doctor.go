package main

import (
	"context"
	"fmt"
	"os"
	"time"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/prove"
	"github.com/signgate/signgate/setup"
)

const doctorHelp = `usage: signgate doctor [--config F] [--containerd-config F] [--prove] [--output text|json]

Asks this node's containerd for its version, reads its configuration, asks
signgate whether it is running and connected to NRI, and says which of
signgate's guarantees hold here (OK), which do not (NO) and
which optional ones are off (--), with what to change.

--prove also asks containerd's CRI to create a container from an image
built here that nobody signed, requires signgate's refusal, removes all
it made, and says what that proved (docs/operations.md).

Exit 0: every guarantee that is not optional holds; 1: one does not;
2: usage or config error; 3: containerd cannot be reached (nothing is
known, as with signgate ps and no daemon).
`

// runDoctor asks the node's containerd for its version, reads its
// configuration, and says which of signgate's guarantees hold here. It
// exits 1 when one that is not optional does not.
func runDoctor(args []string) int {
	c := newCommand("doctor", doctorHelp)
	cfgPath := c.configFlag(config.DefaultPath, "signgate's config (for containerd's socket and the decision deadline)")
	ctdConfig := c.fs.String("containerd-config", "/etc/containerd/config.toml", "containerd's config file (its imports are read too)")
	crioConfig := c.fs.String("crio-config", config.DefaultCRIOConfig, "CRI-O's config file, when [daemon.runtime] name = \"crio\" (crio's --config); when not given, [daemon.runtime] crio_config")
	crioDir := c.fs.String("crio-config-dir", config.DefaultCRIOConfigDir, "CRI-O's drop-in directory, read after its config file as CRI-O reads it (crio's --config-dir); when not given, [daemon.runtime] crio_config_dir")
	crioSock := c.fs.String("crio-socket", doctor.DefaultCRIOSocket, "CRI-O's socket (crio's --listen), asked for the config CRI-O runs (GET /config, as crio status config does); when not given, [daemon.runtime] crio_socket if set")
	doProve := c.fs.Bool("prove", false, "create a container from an image nobody signed and require signgate's refusal")
	c.outputFlag(DoctorSchema)
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	paths := crioPaths{file: *crioConfig, dir: *crioDir, sock: *crioSock}
	if !c.given("crio-socket") {
		paths.sock = "" // crio_socket, else the default (crioReport)
	}
	// Not given: the files signgate itself reads (crioReport).
	paths.fileGiven, paths.dirGiven = c.given("crio-config"), c.given("crio-config-dir")
	rep, code := doctorReport(*cfgPath, *ctdConfig, paths)
	if *doProve && rep.Error == "" {
		code = max(code, proveReport(rep, *cfgPath))
	}
	if *c.output == "json" {
		_ = writeJSON(os.Stdout, rep)
		return code
	}
	if rep.Error != "" {
		fmt.Fprintln(os.Stderr, "signgate:", rep.Error)
		return code
	}
	if rep.Detected != "" {
		fmt.Printf("[daemon.runtime] name = \"auto\": %s, as signgate's /readyz names it\n", rep.Detected)
	}
	if rep.Runtime == config.RuntimeCRIO {
		fmt.Printf("CRI-O, storage at %s\n", rep.Socket)
	} else {
		fmt.Printf("containerd %s at %s\n", rep.Containerd, rep.Socket)
	}
	if rep.ConfigError != "" {
		fmt.Printf("WARNING: the runtime's config: %s (judging by its defaults)\n", rep.ConfigError)
	} else {
		fmt.Printf("config %v\n", rep.ConfigFiles)
	}
	for _, f := range rep.Findings {
		fmt.Printf("%s %s: %s\n", f.Mark, f.Guarantee, f.Detail)
	}
	printProve(rep.Prove)
	return code
}

// DoctorSchema versions signgate doctor's JSON output.
const DoctorSchema = "signgate.dev/doctor/v1"

type doctorOutput struct {
	Schema      string          `json:"schema"`
	Runtime     string          `json:"runtime,omitempty"`    // [daemon.runtime] name: containerd or crio (under auto, the one detected)
	Detected    string          `json:"detected,omitempty"`   // under auto: the runtime and version signgate's /readyz names
	Containerd  string          `json:"containerd,omitempty"` // its version
	Socket      string          `json:"socket,omitempty"`
	ConfigFiles []string        `json:"config_files,omitempty"` // containerd's, with imports
	ConfigError string          `json:"config_error,omitempty"` // then containerd's defaults are assumed
	Findings    []doctorFinding `json:"findings"`
	Prove       *prove.Result   `json:"prove,omitempty"` // with --prove
	Error       string          `json:"error,omitempty"`
}

type doctorFinding struct {
	Mark      string `json:"-"`
	Guarantee string `json:"guarantee"`
	Holds     bool   `json:"holds"`
	Optional  bool   `json:"optional"`
	Detail    string `json:"detail"`
}

func doctorReport(cfgPath, ctdConfig string, crioConfig crioPaths) (*doctorOutput, int) {
	rep := &doctorOutput{Schema: DoctorSchema, Findings: []doctorFinding{}}
	cfg, err := setup.Load(cfgPath)
	if err != nil {
		rep.Error = err.Error()
		return rep, exitUsage
	}
	rep.Runtime = cfg.Daemon.Runtime.Name
	if rep.Runtime == config.RuntimeAuto {
		if code := detectRuntime(rep, cfg); code != exitOK {
			return rep, code
		}
	}
	if rep.Runtime == config.RuntimeCRIO {
		return rep, crioReport(rep, cfg, crioConfig)
	}
	rep.Socket = cfg.Daemon.ContainerdSocket
	version, err := containerdVersion(cfg.Daemon.ContainerdSocket)
	if err != nil {
		rep.Error = fmt.Sprintf("asking containerd at %s for its version: %v", cfg.Daemon.ContainerdSocket, err)
		return rep, exitUnknown // not the user's input: nothing is known
	}
	rep.Containerd = version
	node := doctor.Node{Version: version, Deadline: cfg.Daemon.DecisionDeadline, Plugin: cfg.Daemon.PluginName, Now: time.Now()}
	for _, src := range cfg.TUF {
		tr := cfg.TrustRoots[src.Name]
		node.TrustRoots = append(node.TrustRoots, doctor.TrustRoot{Name: src.Name, Mirror: src.Mirror, Loaded: tr.Material != nil,
			Verified: tr.Verified, NotAfter: tr.NotAfter, Limit: tr.Limit})
	}
	node.PolicySource = doctorPolicySource(cfg)
	node.Listeners = probeListeners(cfg.Daemon)
	running := askRunning(cfg.Daemon)
	node.Running = &running
	if node.Config, err = doctor.ReadContainerd(ctdConfig); err != nil {
		rep.ConfigError = err.Error()
	} else {
		rep.ConfigFiles = node.Config.Files
	}
	return rep, rep.add(doctor.Check(node))
}

// add lists the findings and returns the exit code they make.
func (rep *doctorOutput) add(findings []doctor.Finding) int {
	code := exitOK
	for _, f := range findings {
		mark := "OK  "
		switch {
		case !f.Holds && f.Optional:
			mark = "--  "
		case !f.Holds:
			mark, code = "NO  ", exitDenied
		}
		rep.Findings = append(rep.Findings, doctorFinding{Mark: mark, Guarantee: f.Guarantee, Holds: f.Holds, Optional: f.Optional, Detail: f.Detail})
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
