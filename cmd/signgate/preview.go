package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// PreviewSchema versions signgate preview's JSON output.
const PreviewSchema = "signgate.dev/preview/v1"

// previewRow is one image's verdict under the new config and, with
// --compare, under the current one.
type previewRow struct {
	Image   string          `json:"image"` // as listed, or as containerd names it
	Digest  string          `json:"digest,omitempty"`
	New     *verify.Verdict `json:"new"`
	Current *verify.Verdict `json:"current,omitempty"`
	Changed bool            `json:"changed,omitempty"` // allowed under one and denied under the other, or another policy
}

type previewOutput struct {
	Schema string       `json:"schema"`
	Images []previewRow `json:"images"`
	Error  string       `json:"error,omitempty"`
}

const previewUsage = `usage: signgate preview --config NEW [--policy ARTIFACT] [--compare CURRENT] (--images FILE | --node) [--output text|json]

Decides each image under the config NEW, as the daemon would, without
installing it: to roll a policy out knowing what it will refuse.

  --images FILE   one image per line (a tag, resolved now, or a digest
                  reference); blank lines and # comments are skipped; - reads stdin
  --node          the images containerd holds on this node (daemon.containerd_socket
                  and containerd_namespace of NEW), by the digest containerd recorded;
                  containerd only: on CRI-O use --images (crictl images -o json)
  --compare CUR   also decide under CUR and list only the images whose decision or
                  governing policy changes; CUR may be a policy artifact's TOML
                  (signgate policy build), taken with NEW's other settings
  --policy FILE   decide under this policy artifact's TOML in place of NEW's
                  policy: a rollout checked before it is signed. With a node's
                  config as NEW, --compare NEW compares it with the policy in force

Exit 0: no image is denied under NEW (with --compare: none that CUR allows);
1: some are; 2: usage or config error.
`

func runPreview(args []string) int {
	c := newCommand("preview", previewUsage)
	newPath := c.configFlag(config.DefaultPath, "the config to preview")
	curPath := c.fs.String("compare", "", "the config in force, or a policy artifact, to compare with")
	policyPath := c.fs.String("policy", "", "a policy artifact's TOML to decide under, in place of the config's policy")
	images := c.fs.String("images", "", "file listing images, one per line (- for stdin)")
	node := c.fs.Bool("node", false, "the images containerd holds on this node")
	c.outputFlag(PreviewSchema)
	namespace := c.fs.String("namespace", "", "Kubernetes namespace to decide for")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	output := c.output
	if (*images == "") == !*node {
		return c.usageError(args, errors.New("give one of --images FILE or --node"))
	}
	rows, err := preview(previewSide{*newPath, *policyPath}, *curPath, *images, *node, *namespace)
	if err != nil {
		if *output == "json" {
			_ = writeJSON(os.Stdout, previewOutput{Schema: PreviewSchema, Images: []previewRow{}, Error: err.Error()})
		} else {
			fmt.Fprintln(os.Stderr, "signgate:", err)
		}
		return exitUsage
	}
	code := exitOK
	for _, r := range rows {
		if !r.New.Allowed && (r.Current == nil || r.Current.Allowed) {
			code = exitDenied
		}
	}
	if *curPath != "" {
		changed := rows[:0]
		for _, r := range rows {
			if r.Changed {
				changed = append(changed, r)
			}
		}
		rows = changed
	}
	if *output == "json" {
		if rows == nil {
			rows = []previewRow{}
		}
		_ = writeJSON(os.Stdout, previewOutput{Schema: PreviewSchema, Images: rows})
		return code
	}
	printPreview(os.Stdout, rows, *curPath != "")
	return code
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// preview decides every image under the new config and, if curPath is
// set, under the current one. Each image is resolved once, so both judge
// the same digest.
func preview(side previewSide, curPath, imagesPath string, node bool, namespace string) ([]previewRow, error) {
	newCfg, newEng, reg, closeNew, err := side.load()
	if err != nil {
		return nil, err
	}
	defer closeNew()
	var curCfg *setup.Config
	var curEng *verify.Engine
	if curPath != "" {
		var closeCur func()
		cur := previewSide{config: curPath}
		if isPolicyArtifact(curPath) {
			cur = previewSide{config: side.config, policy: curPath}
		}
		curCfg, curEng, _, closeCur, err = cur.load()
		if err != nil {
			return nil, fmt.Errorf("--compare: %w", err)
		}
		defer closeCur()
	}
	var targets []previewTarget
	if node {
		targets, err = nodeImages(newCfg)
	} else {
		targets, err = listedImages(imagesPath, reg, newCfg)
	}
	if err != nil {
		return nil, err
	}
	rows := make([]previewRow, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // a few verifications at a time, as the daemon's preverify
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rows[i] = previewRow{Image: t.ref}
			if t.unknown != nil {
				rows[i].New = t.unknown
				if curEng != nil {
					rows[i].Current = t.unknown
				}
				return
			}
			rows[i].Digest = t.img.DigestStr()
			if !node { // the manifest this host would pull stands for the one that runs
				ctx, cancel := context.WithTimeout(context.Background(), newCfg.Registry.VerifyTimeout)
				t.platform, _ = platformToRun(ctx, newEng, t.img, namespace, verify.HostPlatform())
				cancel()
			}
			req := verify.Request{Image: t.img, Namespace: namespace, Platform: t.platform}
			rows[i].New = decideNow(newCfg, newEng, req)
			if curEng != nil {
				rows[i].Current = decideNow(curCfg, curEng, req)
				rows[i].Changed = rows[i].New.Allowed != rows[i].Current.Allowed || rows[i].New.Policy != rows[i].Current.Policy
			}
		}()
	}
	wg.Wait()
	return rows, nil
}

type previewTarget struct {
	ref      string
	img      name.Digest
	unknown  *verify.Verdict // the image could not be resolved
	platform string          // the platform manifest that runs, when known
}

// listedImages reads the list and resolves each tag now.
func listedImages(path string, reg *registry.Client, cfg *setup.Config) ([]previewTarget, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--images: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []previewTarget
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		ref, err := name.ParseReference(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: image %q: %v", path, line, s, err)
		}
		t := previewTarget{ref: s}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Registry.VerifyTimeout)
		t.img, err = resolve(ctx, reg, ref)
		cancel()
		if err != nil {
			t.unknown = verify.Deny(s, "", unresolvedCause(err), "cannot resolve to a digest: "+verify.Excerpt(err))
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--images %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New("--images " + path + ": lists no image")
	}
	return out, nil
}

// crioNodeHint says what to use instead of --node on CRI-O.
const crioNodeHint = "on CRI-O, list the images with --images FILE, e.g. from `crictl images -o json | jq -r '.images[].repoDigests[]'`"

// nodeImages lists the images containerd holds, by the digest it recorded.
// It reads containerd only: on CRI-O it refuses, naming --images, rather
// than report a containerd socket that is not there.
func nodeImages(cfg *setup.Config) ([]previewTarget, error) {
	if cfg.Daemon.Runtime.Name == config.RuntimeCRIO {
		return nil, fmt.Errorf("--node reads containerd's image store, and daemon.runtime.name is %q: %s", config.RuntimeCRIO, crioNodeHint)
	}
	store, err := imagestore.Dial(cfg.Daemon.ContainerdSocket, cfg.Daemon.ContainerdNamespace, cfg.Daemon.Snapshotters)
	if err != nil {
		return nil, fmt.Errorf("--node: %w (%s)", err, crioNodeHint)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Registry.VerifyTimeout)
	defer cancel()
	names, err := store.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("--node: containerd at %s: %w (%s)", cfg.Daemon.ContainerdSocket, err, crioNodeHint)
	}
	sort.Strings(names)
	var out []previewTarget
	for _, n := range names {
		t := previewTarget{ref: n}
		ds, err := store.Resolve(ctx, n)
		if err != nil || len(ds) == 0 {
			t.unknown = verify.Deny(n, "", verify.CauseImageUnknown, fmt.Sprintf("containerd cannot resolve it: %v", err))
		} else {
			t.img = ds[0]
			if m, err := store.PulledManifest(ctx, t.img); err == nil {
				t.platform = m.String() // the one platform pulled runs
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func printPreview(w io.Writer, rows []previewRow, compare bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if compare {
		if len(rows) == 0 {
			fmt.Fprintln(w, "no image's decision or policy changes")
			return
		}
		fmt.Fprintln(tw, "IMAGE\tCURRENT\tNEW\tREASON (NEW)")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s (%s)\t%s (%s)\t%s\n", r.Image, r.Current.Decision(), orDash(r.Current.Policy), r.New.Decision(), orDash(r.New.Policy), r.New.Reason)
		}
	} else {
		fmt.Fprintln(tw, "DECISION\tIMAGE\tPOLICY\tCAUSE\tREASON")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.New.Decision(), r.Image, orDash(r.New.Policy), r.New.Cause, r.New.Reason)
		}
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// previewSide is what one side of a preview decides under: a config, or
// a config with a policy artifact in place of its policy.
type previewSide struct{ config, policy string }

func (s previewSide) load() (*setup.Config, *verify.Engine, *registry.Client, func(), error) {
	if s.policy == "" {
		return loadEngine(s.config)
	}
	body, err := os.ReadFile(s.policy)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	g, err := setup.OpenComposed(s.config, body, s.policy)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return g.Config, g.Engine, g.Registry, g.Close, nil
}

// isPolicyArtifact says whether path holds a policy artifact's TOML
// rather than a config.
func isPolicyArtifact(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	_, err = config.ParseFragment(path, b)
	return err == nil
}
