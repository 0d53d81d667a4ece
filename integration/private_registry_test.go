package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/registry/credprovider"
)

// An ECR-shaped name, so that the real ecr-credential-provider finds its
// region (us-east-1) in it. No DNS: hosts.toml routes it to a registry on
// loopback, for containerd and signgate alike.
const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

func secret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// private is a signed busybox image in an authenticated registry (the
// distribution v3 registry: htpasswd over TLS, its CA given to containerd
// and signgate through hosts.toml), named as in ECR.
type private struct {
	reg *harness.AuthRegistry
	ref string // ecrHost/app:v1
	d   name.Digest
}

func newPrivate(t *testing.T, e *env, repo string) *private {
	t.Helper()
	reg, err := harness.StartAuthRegistry(t.TempDir(), e.Bin, "AWS", secret(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	if err := e.RouteRegistry(ecrHost, "https://"+reg.Host, reg.CA); err != nil {
		t.Fatal(err)
	}
	return pushPrivate(t, e, reg, repo)
}

// pushPrivate pushes a signed busybox image to repo in reg, named in ECR.
func pushPrivate(t *testing.T, e *env, reg *harness.AuthRegistry, repo string) *private {
	t.Helper()
	return pushNamed(t, e, reg, ecrHost, repo)
}

// pushNamed pushes a signed busybox image to repo in reg, named as host.
func pushNamed(t *testing.T, e *env, reg *harness.AuthRegistry, host, repo string) *private {
	t.Helper()
	dg, err := e.PushSignedBusybox(reg, e.Registry+"/private-src/"+repo+":v1", repo)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := name.NewDigest(host + "/" + repo + "@" + dg)
	return &private{reg: reg, ref: host + "/" + repo + ":v1", d: d}
}

// pull pulls the image into containerd with the credential the kubelet
// would give it, as the CRI carries it.
func (p *private) pull(t *testing.T, e *env) {
	t.Helper()
	if out, err := e.Crictl("pull", "--creds", p.reg.User+":"+p.reg.Password, p.ref); err != nil {
		t.Fatalf("crictl pull %s: %v: %s", p.ref, err, out)
	}
}

// privateConfig is the suite's config with a policy for the ECR host and
// extra, a [registry.credential_providers] or docker_config line.
func privateConfig(e *env, registryExtra, tables string) string {
	return privateConfigFor(e, ecrHost, registryExtra, tables)
}

func privateConfigFor(e *env, host, registryExtra, tables string) string {
	cfg := strings.Replace(harness.DefaultSigngateConfig(e.Env), `verify_timeout = "4s"`, `verify_timeout = "4s"`+"\n"+registryExtra, 1)
	return cfg + fmt.Sprintf(`
[[policy]]
name = "private"
scopes = ["%s/**"]
  [policy.cosign]
  keys = ["k1"]
`, host) + tables
}

func restartWith(t *testing.T, e *env, cfg string) {
	t.Helper()
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
}

// noSecrets fails if signgate's log or a verdict quotes a secret.
func noSecrets(t *testing.T, e *env, verdicts string, secrets ...string) {
	t.Helper()
	log := e.SigngateLog.String()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("signgate's log holds the secret %q", s)
		}
		if strings.Contains(verdicts, s) {
			t.Errorf("a verdict holds the secret %q", s)
		}
	}
}

// The real ecr-credential-provider (k8s.io/cloud-provider-aws, built from
// the module proxy) gives signgate the credential for a registry that
// requires one, as it gives the kubelet: a signed image there runs.
// Without the provider the same image is denied, naming the registry, the
// credential source tried and the 401. Neither the token nor the password
// reaches signgate's log or a verdict.
//
// ECR's own API is a stand-in (harness.ECRStandIn): the real one needs an
// AWS account and the network. The plugin reaches it through
// AWS_ENDPOINT_URL_ECR with static test credentials, both given in the
// provider's env exactly as on a node.
func TestPrivateRegistryWithKubeletCredentialProvider(t *testing.T) {
	e := need(t)
	p := newPrivate(t, e, "ecr/app")
	const accessKey = "AKIDSIGNGATETEST0001"
	ecr := harness.NewECRStandIn(accessKey, "us-east-1", p.reg.User, p.reg.Password, 12*time.Hour)
	t.Cleanup(ecr.Close)

	// The kubelet's files: its provider config, and a bin dir holding the
	// plugin and nothing else.
	providers, binDir, err := harness.InstallECRProvider(t.TempDir(), e.Bin, ecr.URL, accessKey)
	if err != nil {
		t.Fatal(err)
	}
	withProvider := privateConfig(e, "", fmt.Sprintf("\n[registry.credential_providers]\nconfig = %q\nbin_dir = %q\n", providers, binDir))
	restartWith(t, e, withProvider)
	t.Cleanup(func() { restartWith(t, e, harness.DefaultSigngateConfig(e.Env)) })
	p.pull(t, e)
	p2 := pushPrivate(t, e, p.reg, "ecr/other")
	p2.pull(t, e)
	podID, podCfg := e.pod("default")

	id, err := e.Create(podID, podCfg, p.ref)
	mustAllow(t, id, err)
	if ecr.Calls() == 0 {
		t.Fatal("signgate allowed the image without asking the provider: the registry was not authenticated?")
	}
	calls := ecr.Calls()
	// The provider's answer is cached for the registry (its cacheKeyType):
	// a second image there does not run it again.
	id, err = e.Create(podID, podCfg, p2.ref)
	mustAllow(t, id, err)
	if ecr.Calls() != calls {
		t.Errorf("the provider ran %d more times; its answer is cached by registry", ecr.Calls()-calls)
	}

	// The same image, signgate without the provider: denied, and the
	// verdict says where, with what, and what the registry answered.
	restartWith(t, e, privateConfig(e, "", ""))
	_, err = e.Create(podID, podCfg, p.ref)
	mustDeny(t, err, "signgate denied image", p.d.DigestStr(), "registry "+ecrHost+" answered 401 Unauthorized", "credentials from none (anonymous: no credential source is configured)")
	t.Logf("denied: %s", lastLineOf(err))
	token := base64.StdEncoding.EncodeToString([]byte(p.reg.User + ":" + p.reg.Password))
	noSecrets(t, e, err.Error(), p.reg.Password, token)
}

// A docker config.json is the other credential source: the one it names
// is tried and named when the registry refuses it.
func TestPrivateRegistryWithDockerConfig(t *testing.T) {
	e := need(t)
	p := newPrivate(t, e, "dockercfg/app")
	p.pull(t, e)
	podID, podCfg := e.pod("default")
	dir := t.TempDir()
	write := func(file, pass string) string {
		f := filepath.Join(dir, file)
		auth := base64.StdEncoding.EncodeToString([]byte(p.reg.User + ":" + pass))
		if err := os.WriteFile(f, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, ecrHost, auth)), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	t.Cleanup(func() { restartWith(t, e, harness.DefaultSigngateConfig(e.Env)) })

	restartWith(t, e, privateConfig(e, fmt.Sprintf("docker_config = %q", write("good.json", p.reg.Password)), ""))
	id, err := e.Create(podID, podCfg, p.ref)
	mustAllow(t, id, err)

	wrong := secret(t)
	stale := write("stale.json", wrong)
	restartWith(t, e, privateConfig(e, fmt.Sprintf("docker_config = %q", stale), ""))
	_, err = e.Create(podID, podCfg, p.ref)
	mustDeny(t, err, "signgate denied image", "registry "+ecrHost+" answered 401 Unauthorized", "credentials from docker_config "+stale)
	noSecrets(t, e, err.Error(), p.reg.Password, wrong)
}

// A registry behind token auth (the distribution v3 registry with a token
// service, as Harbor, GitLab and Docker Hub work): signgate trades the
// docker config's robot account for a pull token and reads the
// signatures; with a stale password the token service's 401 is named,
// with the source tried. No password or token reaches the log or a
// verdict.
func TestPrivateRegistryWithTokenAuth(t *testing.T) {
	e := need(t)
	reg, err := harness.StartTokenRegistry(t.TempDir(), e.Bin, "robot$ci", secret(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	if err := e.RouteRegistry(reg.Host, "https://"+reg.Host, reg.CA); err != nil {
		t.Fatal(err)
	}
	p := pushNamed(t, e, reg, reg.Host, "team/app")
	p.pull(t, e)
	podID, podCfg := e.pod("default")
	dir := t.TempDir()
	write := func(file, pass string) string {
		f := filepath.Join(dir, file)
		auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + pass))
		if err := os.WriteFile(f, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, auth)), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	t.Cleanup(func() { restartWith(t, e, harness.DefaultSigngateConfig(e.Env)) })

	before := len(reg.Tokens())
	restartWith(t, e, privateConfigFor(e, reg.Host, fmt.Sprintf("docker_config = %q", write("good.json", reg.Password)), ""))
	id, err := e.Create(podID, podCfg, p.ref)
	mustAllow(t, id, err)
	if len(reg.Tokens()) == before {
		t.Fatal("allowed without a token from the token service")
	}

	wrong := secret(t)
	stale := write("stale.json", wrong)
	restartWith(t, e, privateConfigFor(e, reg.Host, fmt.Sprintf("docker_config = %q", stale), ""))
	_, err = e.Create(podID, podCfg, p.ref)
	mustDeny(t, err, "signgate denied image", "registry "+reg.Host+" answered 401 Unauthorized", "credentials from docker_config "+stale)
	t.Logf("denied: %s", lastLineOf(err))
	noSecrets(t, e, err.Error(), append(reg.Tokens(), reg.Password, wrong)...)
}

// lastLineOf is crictl's last line of err: the runtime's message.
func lastLineOf(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	return lines[len(lines)-1]
}

// The real ecr-credential-provider, run by signgate's provider code alone
// (no containerd): it finds the region in the ECR host, signs its request
// with the env's credentials, answers for the registry (cacheKeyType
// Registry), and a second image of the registry is served from the cache.
// It logs what a credential costs on the cold path (one plugin run) and
// on the warm one.
func TestECRCredentialProviderCost(t *testing.T) {
	e := need(t)
	const accessKey = "AKIDSIGNGATETEST0002"
	ecr := harness.NewECRStandIn(accessKey, "eu-west-1", "AWS", "pw-cost", 12*time.Hour)
	t.Cleanup(ecr.Close)
	cfg, binDir, err := harness.InstallECRProvider(t.TempDir(), e.Bin, ecr.URL, accessKey)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := credprovider.Load(credprovider.Settings{Config: cfg, BinDir: binDir})
	if err != nil {
		t.Fatal(err)
	}
	const host = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
	start := time.Now()
	c, from, ok, err := ps.Lookup(context.Background(), host+"/team/app")
	cold := time.Since(start)
	if err != nil || !ok || from != "ecr-credential-provider" || c.Username != "AWS" || c.Password != "pw-cost" {
		t.Fatalf("Lookup = %v, %q, %v, %v", c.Username, from, ok, err)
	}
	start = time.Now()
	if _, _, ok, err := ps.Lookup(context.Background(), host+"/team/other"); !ok || err != nil {
		t.Fatalf("second image: %v, %v", ok, err)
	}
	warm := time.Since(start)
	if ecr.Calls() != 1 {
		t.Errorf("the plugin asked ECR %d times, want once (its answer is cached for the registry)", ecr.Calls())
	}
	t.Logf("a credential from ecr-credential-provider: %s cold (one plugin run), %s warm (cached)", cold.Round(time.Millisecond), warm.Round(time.Microsecond))
}
