package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/localapi"
)

const psUsage = `usage: signgate ps [--config F] [--socket S] [--output text|json] [--timeout T]

Lists every container running on this node with its image judged again now
by the running daemon (its verdict cache answers most): pod, container,
image, digest, policy, verdict (trusted, allowed unverified, or untrusted:
its policy no longer trusts it), what verified it, and what signgate did
about an untrusted one (the policy's on_untrusted_running: report or stop).
Exit 0: every running container is trusted or allowed; 1: one is
untrusted; 2: usage error; 3: the daemon cannot be asked (nothing is known).
`

// PsSchema versions signgate ps' JSON output.
const PsSchema = "signgate.dev/ps/v1"

type psOutput struct {
	Schema string `json:"schema"`
	localapi.RunningResponse
}

// runPs asks the running daemon to judge the running containers.
func runPs(args []string) int {
	c := newCommand("ps", psUsage)
	cfgPath := c.configFlag(config.DefaultPath, "config file, for the API socket's path")
	socket := c.fs.String("socket", os.Getenv("SIGNGATE_API_SOCKET"), "the daemon's API socket (default: $SIGNGATE_API_SOCKET, else the config's daemon.api_socket)")
	c.outputFlag(PsSchema)
	timeout := c.fs.Duration("timeout", 60*time.Second, "how long to wait for the daemon (a verification not cached may take registry.verify_timeout per image)")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	if *socket == "" {
		*socket = config.DefaultAPISocket
		if cfg, err := config.Load(*cfgPath); err == nil && cfg.Daemon.APISocket != "" {
			*socket = cfg.Daemon.APISocket
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var resp localapi.RunningResponse
	if err := localapi.Call(ctx, *socket, http.MethodGet, localapi.PathRunning, nil, &resp); err != nil {
		err = fmt.Errorf("cannot reach the signgate daemon at %s: %w", *socket, err)
		if *c.output == "json" {
			_ = writeJSON(os.Stdout, psOutput{Schema: PsSchema, RunningResponse: localapi.RunningResponse{Containers: []localapi.RunningContainer{}, Error: err.Error()}})
		} else {
			fmt.Fprintln(os.Stderr, "signgate:", err)
		}
		return exitUnknown
	}
	if *c.output == "json" {
		_ = writeJSON(os.Stdout, psOutput{Schema: PsSchema, RunningResponse: resp})
	} else {
		printRunning(os.Stdout, resp.Containers)
		if resp.Error != "" {
			fmt.Fprintln(os.Stderr, "signgate:", resp.Error)
		}
	}
	for _, rc := range resp.Containers {
		if rc.Verdict == localapi.RunningUntrusted {
			return exitDenied
		}
	}
	return exitOK
}

func printRunning(w io.Writer, cs []localapi.RunningContainer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tPOD\tCONTAINER\tIMAGE\tDIGEST\tPOLICY\tVERDICT\tVERIFIED BY\tACTION")
	for _, rc := range cs {
		by := strings.Join(rc.VerifiedBy, "; ")
		if rc.Verdict == localapi.RunningUntrusted {
			by = "(" + rc.Cause + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", or(rc.Namespace, "-"), or(rc.Pod, "-"), or(rc.Container, "-"), or(rc.Image, "-"),
			or(rc.Digest, "-"), or(rc.Policy, "-"), rc.Verdict, or(by, "-"), or(rc.Action, "-"))
	}
	_ = tw.Flush()
	for _, rc := range cs {
		if rc.Verdict == localapi.RunningUntrusted {
			fmt.Fprintf(w, "\n%s/%s %s (%s): %s\n", rc.Namespace, rc.Pod, rc.Container, rc.ID, rc.Reason)
		}
	}
}
