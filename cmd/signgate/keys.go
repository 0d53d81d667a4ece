package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/setup"
)

const keysUsage = `usage: signgate keys list|sync [--config F] [--socket S] [--output text|json] [--timeout T]

Shows the keys the running daemon trusts, or makes it sync its KMS keys.

  list   show every key the running daemon trusts: name, source, version,
         fingerprint, algorithm, last sync and state, then its keyless trust
         roots and identities (when the daemon is not running: the
         config's static keys, and its KMS keys as last synced)
  sync   make the daemon sync its KMS keys now, and report what changed

Exit 0: listed, or synced; 1: some keys could not be synced; 2: usage or
config error; 3: sync, and the daemon cannot be asked (nothing was done).
`

// runKeys asks the running daemon about its keys over the API socket.
func runKeys(args []string) int {
	if len(args) > 0 && isHelp(args[:1]) || len(args) > 0 && args[0] == "help" {
		fmt.Print(keysUsage)
		return exitOK
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "sync") {
		fmt.Fprint(os.Stderr, keysUsage)
		return exitUsage
	}
	cmd := args[0]
	c := newCommand("keys "+cmd, keysUsage)
	cfgPath := c.configFlag(config.DefaultPath, "config file, for the API socket's path")
	socket := c.fs.String("socket", os.Getenv("SIGNGATE_API_SOCKET"), "the daemon's API socket (default: $SIGNGATE_API_SOCKET, else the config's daemon.api_socket)")
	c.outputFlag(KeysSchema)
	output := c.output
	timeout := c.fs.Duration("timeout", 30*time.Second, "how long to wait for the daemon")
	if _, code, done := c.parse(args[1:], 0, 0); done {
		return code
	}
	if *socket == "" {
		*socket = config.DefaultAPISocket
		if cfg, err := setup.Load(*cfgPath); err == nil && cfg.Daemon.APISocket != "" {
			*socket = cfg.Daemon.APISocket
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	method, path := http.MethodGet, localapi.PathKeys
	if cmd == "sync" {
		method, path = http.MethodPost, localapi.PathKeysSync
	}
	var resp localapi.KeysResponse
	if err := localapi.Call(ctx, *socket, method, path, nil, &resp); err != nil {
		err = fmt.Errorf("cannot reach the signgate daemon at %s: %w", *socket, err)
		if cmd == "list" {
			return listOffline(*cfgPath, *output, err)
		}
		return keysFailed(*output, err, exitUnknown)
	}
	if *output == "json" {
		_ = writeJSON(os.Stdout, keysOutput{Schema: KeysSchema, KeysResponse: resp})
	} else {
		if cmd == "sync" {
			if len(resp.Changes) == 0 {
				fmt.Println("no changes")
			}
			for _, c := range resp.Changes {
				fmt.Println(keysync.Change{Key: c.Key, Kind: keysync.ChangeKind(c.Kind), Version: c.Version, Fingerprint: c.Fingerprint, Detail: c.Detail}.String())
			}
			fmt.Println()
		}
		printKeys(os.Stdout, resp.Keys)
	}
	if resp.Error != "" {
		fmt.Fprintln(os.Stderr, "signgate: some keys could not be synced:", resp.Error)
		return exitDenied
	}
	return exitOK
}

// KeysSchema versions signgate keys' JSON output.
const KeysSchema = "signgate.dev/keys/v1"

type keysOutput struct {
	Schema string `json:"schema"`
	localapi.KeysResponse
	// Daemon says why the keys come from the config, not the daemon: set
	// only when the daemon could not be reached.
	Daemon string `json:"daemon,omitempty"`
	Config string `json:"config,omitempty"` // the config they come from
}

// keysFailed reports an error that leaves no keys to show.
func keysFailed(output string, err error, code int) int {
	if output == "json" {
		_ = writeJSON(os.Stdout, keysOutput{Schema: KeysSchema, KeysResponse: localapi.KeysResponse{Keys: []localapi.KeyInfo{}, Error: err.Error()}})
	} else {
		fmt.Fprintln(os.Stderr, "signgate:", err)
	}
	return code
}

func printKeys(w io.Writer, keys []localapi.KeyInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tVERSION\tFINGERPRINT\tALGORITHM\tLAST SYNC\tSTATE")
	for _, k := range keys {
		last := "-"
		if !k.LastSync.IsZero() {
			last = k.LastSync.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, k.Source, or(k.Version, "-"), or(k.Fingerprint, "-"), or(k.Algorithm, "-"), last, k.State)
	}
	_ = tw.Flush()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
