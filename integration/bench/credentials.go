package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/registry/credprovider"
	"github.com/signgate/signgate/verify"
)

// An ECR-shaped name, for the real ecr-credential-provider to find its
// region in; hosts.toml sends it to the registry on loopback.
const benchECRHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

// credentialRuns is how many cold provider runs (a plugin exec each) are
// timed; credentialWarmRuns how many cached lookups after each.
const (
	credentialRuns     = 20
	credentialWarmRuns = 1000
)

// credentialRows measures what a registry credential costs: the real
// ecr-credential-provider (its one AWS call, GetAuthorizationToken,
// answered by harness.ECRStandIn on loopback in place of ECR's API) run
// cold and answered from the cache, and a verification against a registry
// that requires the credential (the distribution registry with htpasswd
// over TLS) with it from the provider beside the same with it from a
// docker config.json, cold (a new client: the provider runs) and new to a
// running client (its answer cached, as on a node after the first image).
func credentialRows(e *harness.Env) []row {
	dir, err := os.MkdirTemp(e.Dir, "bench-cred-")
	check(err)
	reg, err := harness.StartAuthRegistry(dir, e.Bin, "AWS", "bench-registry-password")
	check(err)
	defer reg.Stop()
	const accessKey = "AKIDSIGNGATEBENCH001"
	ecr := harness.NewECRStandIn(accessKey, "us-east-1", reg.User, reg.Password, 12*time.Hour)
	defer ecr.Close()
	providerConfig, binDir, err := harness.InstallECRProvider(filepath.Join(dir, "providers"), e.Bin, ecr.URL, accessKey)
	check(err)
	settings := credprovider.Settings{Config: providerConfig, BinDir: binDir}
	hostsDir := filepath.Join(dir, "certs.d")
	check(os.MkdirAll(filepath.Join(hostsDir, benchECRHost), 0o755))
	check(os.WriteFile(filepath.Join(hostsDir, benchECRHost, "hosts.toml"), []byte(fmt.Sprintf("server = %q\nca = %q\n", "https://"+reg.Host, reg.CA)), 0o644))
	dockerConfig := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	check(os.WriteFile(dockerConfig, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, benchECRHost, auth)), 0o600))

	imgs := make([]name.Digest, imagesPerFormat)
	for i := range imgs {
		src, err := harness.PushBusybox(fmt.Sprintf("%s/bench/cred-src%d:v1", e.Registry, i), "sleep", fmt.Sprint(100+i))
		check(err)
		img, err := remote.Image(src)
		check(err)
		dst, err := name.ParseReference(fmt.Sprintf("%s/bench/cred%d:v1", reg.Host, i))
		check(err)
		check(remote.Write(dst, img, reg.Options()...))
		check(e.Signers["k1"].SignLegacy(dst.Context().Digest(src.DigestStr()), reg.Options()...))
		imgs[i], err = name.NewDigest(fmt.Sprintf("%s/bench/cred%d@%s", benchECRHost, i, src.DigestStr()))
		check(err)
	}
	k1, err := keystore.ParsePublicKeyPEM("k1", "inline", []byte(e.Signers["k1"].PublicPEM()))
	check(err)
	store, err := keystore.NewStore(k1)
	check(err)
	scope, err := verify.ParseScope(benchECRHost + "/**")
	check(err)
	snap := &verify.Snapshot{ID: "credentials", Keys: store, Policies: verify.Policies{{
		Name: "private", Scopes: []verify.Scope{scope}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1},
	}}}
	ctx := context.Background()

	// The provider alone, as a verification asks it: a new Providers
	// each round (one plugin run), then its cache.
	var lookupCold, lookupWarm []time.Duration
	for i := 0; i < credentialRuns; i++ {
		ps, err := credprovider.Load(settings)
		check(err)
		start := time.Now()
		c, _, ok, err := ps.Lookup(ctx, benchECRHost+"/bench/cred0")
		lookupCold = append(lookupCold, time.Since(start))
		if err != nil || !ok || c.Password != reg.Password {
			fail(fmt.Sprintf("ecr-credential-provider gave no credential: %v", err))
		}
		for j := 0; j < credentialWarmRuns; j++ {
			start := time.Now()
			_, _, _, _ = ps.Lookup(ctx, fmt.Sprintf("%s/bench/cred%d", benchECRHost, j%len(imgs)))
			lookupWarm = append(lookupWarm, time.Since(start))
		}
	}
	if ecr.Calls() != credentialRuns {
		fail(fmt.Sprintf("the plugin asked ECR %d times for %d cold lookups: its answer was not cached", ecr.Calls(), credentialRuns))
	}

	// Per verification. Each pair alternates which source reads an image
	// first, so each sees the registry as warm as the other.
	client := func(docker bool) *registry.Client {
		cfg := registry.Config{HostsDir: hostsDir}
		if docker {
			cfg.DockerConfig = dockerConfig
		} else {
			cfg.CredentialProviders = settings
		}
		c, err := registry.New(cfg)
		check(err)
		return c
	}
	decide := func(c *registry.Client, d name.Digest) time.Duration {
		eng := verify.NewEngine(snap, c, verify.Options{})
		start := time.Now()
		v := eng.Decide(ctx, verify.Request{Image: d})
		took := time.Since(start)
		if !v.Allowed {
			fail("private registry bench image denied: " + v.Reason)
		}
		return took
	}
	runningDocker, runningProvider := client(true), client(false)
	decide(runningDocker, imgs[len(imgs)-1])
	decide(runningProvider, imgs[len(imgs)-1])
	var dockerCold, providerCold, dockerRunning, providerRunning []time.Duration
	for i, d := range imgs[:len(imgs)-1] {
		pairs := []func(){
			func() { dockerCold = append(dockerCold, decide(client(true), d)) },
			func() { providerCold = append(providerCold, decide(client(false), d)) },
			func() { dockerRunning = append(dockerRunning, decide(runningDocker, d)) },
			func() { providerRunning = append(providerRunning, decide(runningProvider, d)) },
		}
		if i%2 == 1 {
			pairs[0], pairs[1], pairs[2], pairs[3] = pairs[1], pairs[0], pairs[3], pairs[2]
		}
		for _, f := range pairs {
			f()
		}
	}
	return []row{
		summarize("credential from ecr-credential-provider, cold (one plugin run)", lookupCold, "exec of the real plugin + GetAuthorizationToken on loopback; the kubelet pays the same per registry"),
		summarize("credential from the provider, cached (its cacheKeyType Registry)", lookupWarm, ""),
		summarize("verify cold, private registry, credential from docker_config", dockerCold, "new client and engine per image: TLS + basic auth"),
		summarize("verify cold, private registry, credential from the provider", providerCold, fmt.Sprintf("%s over docker_config (paired): the plugin run", signed(paired(providerCold, dockerCold)))),
		summarize("verify, private registry, new to a running client, docker_config", dockerRunning, ""),
		summarize("verify, private registry, new to a running client, provider cached", providerRunning, fmt.Sprintf("%s over docker_config (paired): the cached answer", signed(paired(providerRunning, dockerRunning)))),
	}
}

// signed is d with its sign, for a difference.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
