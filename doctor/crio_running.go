package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/signgate/signgate/internal/peercred"
)

// DefaultCRIOSocket is where CRI-O listens unless its --listen says
// otherwise.
const DefaultCRIOSocket = "/var/run/crio/crio.sock"

// ReadCRIORunning asks CRI-O, on its socket, for the config it runs: GET
// /config, what `crio status config` shows. Only it has what CRI-O's
// command line (--enable-nri=false, --nri-enable-default-validator=false,
// --config, --config-dir), its CONTAINER_* environment and its start made
// of the files: NRI settings are read once, at start (SIGHUP does not
// reload them), so a drop-in written since is not in force.
// Only a peer of root's (or doctor's own user's) is believed (rootOrSelf).
func ReadCRIORunning(ctx context.Context, sock string) (*CRIO, error) {
	return readCRIORunning(ctx, sock, rootOrSelf)
}

func readCRIORunning(ctx context.Context, sock string, trusted func(uint32) bool) (*CRIO, error) {
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, err
		}
		if err := peercred.Check(c, "CRI-O's socket "+sock, trusted); err != nil {
			_ = c.Close()
			return nil, err
		}
		return c, nil
	}}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://crio/config", http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /config on CRI-O's socket %s: %w", sock, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET /config on CRI-O's socket %s: %w", sock, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /config on CRI-O's socket %s: %s: %.200s", sock, resp.Status, body)
	}
	name := "CRI-O's running config (GET /config on " + sock + ")"
	var t crioTOML
	c := &CRIO{Running: true, Set: map[string]string{}}
	if err := decodeCRIO(string(body), name, &t, c.Set); err != nil {
		return nil, err
	}
	c.fill(&t)
	return c, nil
}

// sameGate reports whether two configs agree on what makes the gate.
func sameGate(a, b *CRIO) bool {
	on := func(c *CRIO) bool { return c.NRIEnable == nil || *c.NRIEnable }
	return on(a) == on(b) && a.Validator == b.Validator && slices.Equal(a.RequiredPlugins, b.RequiredPlugins) &&
		a.TolerateAnnotation == b.TolerateAnnotation
}

// crioRunningFinding says whether doctor read the config CRI-O runs, and
// whether CRI-O's files still give it.
func crioRunningFinding(n Node, cfg *CRIO) Finding {
	f := Finding{Guarantee: "doctor reads the NRI config CRI-O runs, and CRI-O's files give it"}
	switch {
	case !cfg.Running:
		f.Detail = fmt.Sprintf("unknown, so not holding: CRI-O's running config could not be read (%s); the files below may not be what CRI-O runs: "+
			"its command line (--enable-nri, --nri-enable-default-validator, --config-dir), its CONTAINER_* environment, or a drop-in written since it started (NRI settings are read at start only) decide; run doctor on the node, as root, with --crio-socket", n.CRIORunningErr)
	case n.CRIOFiles == nil:
		f.Detail = "CRI-O's running config is read from its socket, but its files could not be read: a restart may change the gate"
	case !sameGate(cfg, n.CRIOFiles):
		f.Detail = fmt.Sprintf("CRI-O runs enable_nri = %t, nri_enable_default_validator = %t, nri_validator_required_plugins = %s, tolerate annotation %q, but its files (%s) now say %t, %t, %s, %q: "+
			"a file written since it started (NRI settings are read at start only), or its command line or environment, differs; the gate changes at CRI-O's next restart: make the files agree",
			cfg.NRIEnable == nil || *cfg.NRIEnable, cfg.Validator, quoteList(cfg.RequiredPlugins), cfg.TolerateAnnotation, strings.Join(n.CRIOFiles.Files, ", "),
			n.CRIOFiles.NRIEnable == nil || *n.CRIOFiles.NRIEnable, n.CRIOFiles.Validator, quoteList(n.CRIOFiles.RequiredPlugins), n.CRIOFiles.TolerateAnnotation)
	default:
		f.Holds, f.Detail = true, "CRI-O's running config (GET /config on its socket) and its files agree on NRI and its validator"
	}
	return f
}
