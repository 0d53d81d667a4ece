// Command signgate verifies container image signatures at the runtime: as a
// containerd NRI plugin (signgate run) and as a one-shot check (signgate verify).
package main

import (
	"fmt"
	"os"

	"github.com/containerd/nri/pkg/api"
)

// Exit codes shared by the subcommands.
const (
	exitOK     = 0
	exitDenied = 1
	// exitError: the command failed at run time (a runtime or service
	// it needs cannot be reached); not the user's input.
	exitError = 1
	exitUsage = 2
	// exitRegistry: the registry could not be read, or not in time, so
	// nothing is known against the image (verify).
	exitRegistry = 3
	// exitUnknown: nothing could be found out (signgate ps with no daemon
	// to ask), told apart from exitDenied as a registry failure is.
	exitUnknown = 3
)

const usage = `usage: signgate <command> [flags]

commands:
  run           run the daemon: an NRI plugin that denies untrusted images
  verify IMAGE  decide one image as the daemon would, and explain why
  inspect IMAGE list every signature and attestation an image carries,
                whether or not a policy uses it
  preview --config NEW (--images FILE | --node) [--compare CURRENT]
                decide many images under a new config before installing it;
                with --compare, list only what changes
  check-config  validate the config and summarise its policies and keys
  policy build|push|export
                make a signed policy artifact from a config, publish it,
                and copy it to an OCI layout for nodes with no registry
  keys list|sync
                show the daemon's keys; sync KMS keys now and report changes
  ps            list the running containers, each image judged again now:
                policy, verdict, what verified it, what was done if untrusted
  image-verifier -name N -digest D
                the pull-time gate, run by containerd from its image verifier
                directory (a link to this binary there is enough)
  doctor        read this node's containerd (version, config) and say which
                of signgate's guarantees hold here, and what to change
  healthcheck   exit 0 if a running daemon is ready (for probes)
  version       print the version and build information

Run 'signgate <command> --help' for what a command does and its flags.
Commands that read the config take --config, default $SIGNGATE_CONFIG,
else /etc/signgate/config.toml.
`

func main() {
	if len(os.Args) < 2 {
		// containerd starts pre-installed NRI plugins (/opt/nri/plugins/
		// 10-signgate) without arguments, handing over the connection.
		if os.Getenv(api.PluginSocketEnvVar) != "" {
			os.Exit(runDaemon(nil))
		}
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitUsage)
	}
	args := os.Args[2:]
	var code int
	// containerd runs image verifiers as `<binary> -name ... -digest ...`.
	if os.Args[1] == "-name" {
		os.Exit(runImageVerifier(os.Args[1:]))
	}
	switch os.Args[1] {
	case "run":
		code = runDaemon(args)
	case "verify":
		code = runVerify(args)
	case "inspect":
		code = runInspect(args)
	case "preview":
		code = runPreview(args)
	case "check-config":
		code = runCheckConfig(args)
	case "policy":
		code = runPolicy(args)
	case "keys":
		code = runKeys(args)
	case "ps":
		code = runPs(args)
	case "image-verifier":
		code = runImageVerifier(args)
	case "doctor":
		code = runDoctor(args)
	case "healthcheck":
		code = runHealthcheck(args)
	case "version", "--version":
		if isHelp(args) {
			fmt.Print("usage: signgate version\n\nPrints signgate's version, the KMS schemes built in, and the Go and\ndependency versions it was built with.\n")
			break
		}
		if len(args) > 0 { // as every command: what it does not take is an error
			fmt.Fprintf(os.Stderr, "signgate version: unexpected argument %q; usage: signgate version\n", args[0])
			code = exitUsage
			break
		}
		printVersion()
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "signgate: unknown command %q\n\n%s", os.Args[1], usage)
		code = exitUsage
	}
	os.Exit(code)
}
