package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
)

const policyUsage = `usage: signgate policy build --from POLICY.toml --serial N [--expires DURATION] [--beyond-max-validity] [--out FILE]
       signgate policy push --file FILE [--config NODE.toml] REFERENCE
       signgate policy export --dir DIR [--config NODE.toml] REFERENCE

build: the keys, certificates, trust roots, identities, policies and
delegations of POLICY.toml (a config as check-config takes it, not the
node's) as a policy artifact's TOML, with key and certificate files
inlined, at serial N (raise it on every publication: nodes refuse a
serial that does not go forward). --expires signs an expiry DURATION from
now into it (default 720h): past it nodes hold the policy stale though the
registry still serves it, and nodes refuse a policy without one unless
policy_source.allow_no_expires_unsafe is set (--expires 0 builds one).
An expiry beyond 2160h (the default policy_source.max_validity) is
refused, as nodes would refuse it, unless --beyond-max-validity.
Written to --out, else stdout.

push: FILE (build's output) as an OCI artifact at REFERENCE, with the
registry settings and credentials of NODE.toml; prints the digest to sign,
e.g. cosign sign --key KEY REFERENCE@DIGEST.

export: the signed artifact at REFERENCE, its cosign signature and what
refers to it, as a new OCI image layout at DIR: for nodes whose
policy_source.path is a copy of it (no registry reachable). See
docs/config.md, [policy_source].
`

func runPolicy(args []string) int {
	if len(args) == 0 || isHelp(args[:1]) || args[0] == "help" {
		fmt.Print(policyUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "build":
		return runPolicyBuild(args[1:])
	case "push":
		return runPolicyPush(args[1:])
	case "export":
		return runPolicyExport(args[1:])
	}
	fmt.Fprintf(os.Stderr, "signgate policy: unknown command %q\n\n%s", args[0], policyUsage)
	return exitUsage
}

func runPolicyBuild(args []string) int {
	c := newCommand("policy build", policyUsage)
	from := c.fs.String("from", "", "the config holding the policy to build (not the node's config)")
	c.fs.Func("config", "refused: give the policy's config as --from (--config names the node's config elsewhere)", func(string) error {
		return errors.New("--config names the node's config in every other command; give the config holding the policy as --from POLICY.toml")
	})
	serial := c.fs.Int64("serial", 0, "the policy's serial, above the one published before")
	out := c.fs.String("out", "", "where to write the artifact's TOML (default stdout)")
	expiresIn := c.fs.Duration("expires", config.DefaultPolicyBuildExpires, "sign an expiry this long from now into the policy (0: none, which nodes refuse unless policy_source.allow_no_expires_unsafe)")
	beyond := c.fs.Bool("beyond-max-validity", false, "build with --expires beyond the default policy_source.max_validity, which nodes refuse unless they raise it")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	if *from == "" {
		return c.usageError(args, errors.New("--from is required: the config holding the policy to build"))
	}
	cfgPath := from
	var expires time.Time
	if *expiresIn < 0 {
		fmt.Fprintf(os.Stderr, "signgate: --expires %s: a duration from now\n", *expiresIn)
		return exitUsage
	} else if *expiresIn > config.DefaultPolicyMaxValidity && !*beyond {
		fmt.Fprintf(os.Stderr, "signgate: --expires %s: beyond the default policy_source.max_validity (%s), so nodes refuse it (expires_too_far) unless they raise it: give a nearer expiry, or --beyond-max-validity if your nodes do\n", *expiresIn, config.DefaultPolicyMaxValidity)
		return exitUsage
	} else if *expiresIn > 0 {
		expires = time.Now().Add(*expiresIn)
	} else {
		fmt.Fprintln(os.Stderr, "signgate: warning: --expires 0: the policy never expires; nodes refuse it unless policy_source.allow_no_expires_unsafe = true, and a registry serving it could hold them on it forever")
	}
	// Compiled first: nothing that would not load on a node is built.
	if _, err := setup.Load(*cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	cc, err := config.Load(*cfgPath)
	if err == nil && cc.PolicySource != nil {
		err = fmt.Errorf("%s has [policy_source]: build from the config that holds the policy", *cfgPath)
	}
	var body []byte
	if err == nil {
		body, err = policysource.FromConfig(cc, *serial, expires)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	if *out == "" {
		_, _ = os.Stdout.Write(body)
		return exitOK
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitError
	}
	return exitOK
}

func runPolicyPush(args []string) int {
	c := newCommand("policy push", policyUsage)
	cfgPath := c.configFlag(config.DefaultPath, "the config whose registry settings and credentials to push with")
	file := c.fs.String("file", "", "the artifact's TOML, from signgate policy build")
	timeout := c.fs.Duration("timeout", time.Minute, "how long the push may take")
	pos, code, done := c.parse(args, 1, 1)
	if done {
		return code
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate: --file:", err)
		return exitUsage
	}
	img, frag, err := policysource.Build(body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: --file %s: %v\n", *file, err)
		return exitUsage
	}
	ref, reg, err := policyRegistry(*cfgPath, pos[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	opts, err := reg.Options(ctx, ref.Context())
	if err == nil {
		err = remote.Write(ref, img, opts...)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: pushing %s: %v\n", ref, err)
		return exitError
	}
	dg, err := img.Digest()
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitError
	}
	fmt.Printf("%s@%s\n", ref.Context().Name(), dg)
	fmt.Fprintf(os.Stderr, "pushed policy serial %d; nodes take it once it is signed, e.g.\n  cosign sign --key KEY %s@%s\n", frag.Serial, ref.Context().Name(), dg)
	return exitOK
}

func runPolicyExport(args []string) int {
	c := newCommand("policy export", policyUsage)
	cfgPath := c.configFlag(config.DefaultPath, "the config whose registry settings and credentials to read with")
	dir := c.fs.String("dir", "", "the new OCI image layout to write")
	timeout := c.fs.Duration("timeout", time.Minute, "how long the export may take")
	pos, code, done := c.parse(args, 1, 1)
	if done {
		return code
	}
	if *dir == "" {
		return c.usageError(args, fmt.Errorf("--dir is required"))
	}
	ref, reg, err := policyRegistry(*cfgPath, pos[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	opts, err := reg.Options(ctx, ref.Context())
	var d name.Digest
	if err == nil {
		d, err = policysource.Export(ctx, ref, *dir, opts...)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "signgate: exporting %s: %v\n", ref, err)
		return exitError
	}
	fmt.Printf("%s\n", d)
	return exitOK
}

// policyRegistry reads the node's config at cfgPath for its registry
// settings and credentials, and parses the policy's reference.
func policyRegistry(cfgPath, reference string) (name.Reference, *registry.Client, error) {
	cc, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	ref, err := name.ParseReference(reference, name.StrictValidation)
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New((&setup.Config{Config: cc}).RegistryConfig())
	if err != nil {
		return nil, nil, err
	}
	return ref, reg, nil
}
