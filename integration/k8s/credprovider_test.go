package k8s_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
)

// An ECR-shaped registry name: the real ecr-credential-provider finds its
// region (us-east-1) in it. There is no DNS: hosts.toml in
// /etc/containerd/certs.d sends it to a registry on loopback, for
// containerd and for signgate's pod (which mounts /etc/containerd) alike.
const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

// Issue 28 item 1 on a real node: the kubelet, given the real
// ecr-credential-provider (--image-credential-provider-config and
// --image-credential-provider-bin-dir), pulls a signed image from a
// registry that requires the credential (the distribution v3 registry:
// htpasswd over TLS, its CA in hosts.toml).
//
// While signgate's chart does not name the provider, the pull works (the
// kubelet has the credential) and the container is denied, naming the
// registry, the credential source tried and the 401. Once the chart names
// the same provider files (kubeletCredentialProviders, mounted by
// hostPath), the same pod's next attempt runs: signgate ran the provider
// itself (the stand-in counts a token the kubelet, with the image already
// pulled, did not ask for) and verified the signature with it. With the
// section removed again, another image of the registry still pulls and is
// denied the same way. Neither the password nor the token reaches a
// verdict, an event or signgate's log.
//
// ECR's API is a stand-in (see ecrNode) for the one AWS call the plugin
// makes; the plugin binary, its SigV4 signing, the kubelet and the
// registry the token opens are the real ones.
func TestKubeletCredentialProviderPullIsVerifiedWithTheSameProvider(t *testing.T) {
	need(t)
	n := newECRNode(t, "credential-providers", eksLayout)
	reg, ecr := n.reg, n.ecr
	img := pushSignedTo(t, reg, "credprov/app")

	// signgate as installed: no provider. The kubelet pulls; signgate
	// cannot read the signature.
	apply(t, deployment("ecr-app", ecrHost+"/credprov/app:v1"))
	t.Cleanup(func() { _, _ = C.Kubectl("delete", "deployment", "ecr-app", "--wait=false") })
	msg, events := waiting(t, "default", "ecr-app", "CreateContainerError")
	if !strings.Contains(events, "Successfully pulled image") {
		t.Fatalf("the kubelet did not pull with its provider's credential:\n%s", events)
	}
	for _, want := range []string{"signgate denied image " + ecrHost + "/credprov/app:v1", img.DigestStr(),
		"registry " + ecrHost + " answered 401 Unauthorized", "credentials from none (anonymous: no credential source is configured)"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, msg)
		}
	}
	t.Logf("without the provider: %s", msg)
	kubeletCalls := ecr.Calls()
	if kubeletCalls == 0 {
		t.Fatal("the image was pulled without a token from the provider")
	}
	deniedLogs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")

	// The chart names the kubelet's files: the same pod runs.
	disable := n.useInChart(t)
	start := time.Now()
	if out, err := C.Kubectl("rollout", "status", "deployment/ecr-app", "--timeout=150s"); err != nil {
		t.Fatalf("the pod did not run once signgate had the provider: %v: %s", err, out)
	}
	t.Logf("admitted %s after the upgrade", time.Since(start).Round(time.Second))
	if ecr.Calls() == kubeletCalls {
		t.Fatal("admitted without signgate asking the provider for a token")
	}
	allowedLogs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")
	if !hasLine(allowedLogs, "decision=allow", "digest="+img.DigestStr(), `verified_by="cosign: ci"`) {
		t.Fatalf("signgate's log has no verified allow for %s:\n%s", img, allowedLogs)
	}

	// The provider section removed again: the kubelet still has the
	// provider (another image of the registry pulls), signgate does not.
	disable()
	other := pushSignedTo(t, reg, "credprov/other")
	apply(t, deployment("ecr-other", ecrHost+"/credprov/other:v1"))
	t.Cleanup(func() { _, _ = C.Kubectl("delete", "deployment", "ecr-other", "--wait=false") })
	otherMsg, otherEvents := waiting(t, "default", "ecr-other", "CreateContainerError")
	if !strings.Contains(otherEvents, "Successfully pulled image") {
		t.Fatalf("the kubelet did not pull the second image:\n%s", otherEvents)
	}
	for _, want := range []string{other.DigestStr(), "registry " + ecrHost + " answered 401 Unauthorized", "credentials from none"} {
		if !strings.Contains(otherMsg, want) {
			t.Fatalf("with the provider section removed, the refusal does not say %q:\n%s", want, otherMsg)
		}
	}

	token := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	pod := kubectl(t, "get", "pods", "-l", "app=ecr-app", "-o", "jsonpath={.items[0].metadata.name}")
	for what, s := range map[string]string{"the refusals": msg + otherMsg, "the pods' events": podEvents(t, "default", pod) + otherEvents,
		"signgate's log": deniedLogs + allowedLogs + kubectl(t, "-n", "signgate-system", "logs", "ds/signgate")} {
		for _, secret := range []string{reg.Password, token} {
			if strings.Contains(s, secret) {
				t.Errorf("%s holds the secret %q", what, secret)
			}
		}
	}
}

// The kubelet's provider config as a directory of files, which the
// kubelet reads since Kubernetes 1.34 and signgate reads too, its file in
// kubelet.config.k8s.io/v1beta1, which the kubelet still reads: the chart
// mounts it with kubeletCredentialProviders.configType Directory, and an
// image the kubelet pulled with the provider is verified with it. (The
// chart's hostPath was of type File alone, and signgate read v1 alone: on
// such a node signgate's pod never started.)
func TestKubeletCredentialProviderConfigDirectory(t *testing.T) {
	need(t)
	n := newECRNode(t, "credential-providers-dir", configDirectory)
	img := pushSignedTo(t, n.reg, "credprovdir/app")
	n.useInChart(t)
	apply(t, deployment("ecr-dir", ecrHost+"/credprovdir/app:v1"))
	t.Cleanup(func() { _, _ = C.Kubectl("delete", "deployment", "ecr-dir", "--wait=false") })
	if out, err := C.Kubectl("rollout", "status", "deployment/ecr-dir", "--timeout=150s"); err != nil {
		t.Fatalf("the pod did not run: %v: %s", err, out)
	}
	if logs := kubectl(t, "-n", "signgate-system", "logs", "ds/signgate"); !hasLine(logs, "decision=allow", "digest="+img.DigestStr(), `verified_by="cosign: ci"`) {
		t.Fatalf("signgate's log has no verified allow for %s:\n%s", img, logs)
	}
}

// ecrNode is the node's side of a private registry named as ECR: the
// registry (distribution v3, htpasswd over TLS, routed by hosts.toml with
// its CA in the hosts directory), the stand-in for ECR's API, and the
// kubelet running the real ecr-credential-provider against it.
//
// ECR's API is a stand-in (harness.ECRStandIn, in this process, on
// loopback) for the one AWS call the plugin makes, GetAuthorizationToken,
// reached through AWS_ENDPOINT_URL_ECR with static test credentials: the
// real one needs an AWS account and the network.
type ecrNode struct {
	reg            *harness.AuthRegistry
	ecr            *harness.ECRStandIn
	config, binDir string // as the kubelet is given them
	configType     string // the hostPath type of config
}

// How the node lays its provider files out.
type providerLayout int

const (
	// eksLayout: the config in the bin dir, as EKS nodes have them
	// (/etc/eks/image-credential-provider/config.json): the chart mounts
	// the file over its place inside the bin dir's mount.
	eksLayout providerLayout = iota
	// configDirectory: the config a directory of files (Kubernetes 1.34),
	// its one file in v1beta1.
	configDirectory
)

// newECRNode sets the node up, its provider files in C.Dir/dir as layout
// says, and restarts the kubelet with them; all undone when t ends.
func newECRNode(t *testing.T, dir string, layout providerLayout) *ecrNode {
	t.Helper()
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		t.Fatal(err)
	}
	reg, err := harness.StartAuthRegistry(t.TempDir(), E.Bin, "AWS", "pw-"+hex.EncodeToString(pw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	hostsDir, err := E.RouteRegistryWithCA(ecrHost, "https://"+reg.Host, reg.CA)
	t.Cleanup(func() { os.RemoveAll(hostsDir) })
	if err != nil {
		t.Fatal(err)
	}
	const accessKey = "AKIDSIGNGATEK8S00001"
	n := &ecrNode{reg: reg, ecr: harness.NewECRStandIn(accessKey, "us-east-1", reg.User, reg.Password, 12*time.Hour), configType: "File"}
	t.Cleanup(n.ecr.Close)
	// Where both the kubelet and (by hostPath) signgate's pod read them.
	if n.config, n.binDir, err = harness.InstallECRProvider(filepath.Join(C.Dir, dir), E.Bin, n.ecr.URL, accessKey); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(n.binDir, "config.yaml")
	if layout == configDirectory {
		to = filepath.Join(C.Dir, dir, "config.d", "ecr.yaml")
		n.configType = "Directory"
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(n.config, to); err != nil {
		t.Fatal(err)
	}
	if layout == configDirectory {
		// In v1beta1, which the kubelet still reads: signgate must too.
		if err := os.WriteFile(to, []byte(strings.Replace(harness.ECRProviderConfig(n.ecr.URL, accessKey),
			"kubelet.config.k8s.io/v1\n", "kubelet.config.k8s.io/v1beta1\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.config = to
	if layout == configDirectory {
		n.config = filepath.Dir(to)
	}
	setKubeletArgs(t, "--image-credential-provider-config", n.config, "--image-credential-provider-bin-dir", n.binDir)
	t.Cleanup(func() { setKubeletArgs(t) })
	return n
}

// useInChart upgrades signgate's release to name the node's provider
// files (kubeletCredentialProviders), and returns what takes them out
// again (done when t ends if not before).
func (n *ecrNode) useInChart(t *testing.T) (disable func()) {
	t.Helper()
	helm := os.Getenv("SIGNGATE_HELM")
	if err := C.HelmUpgrade(helm, "../../charts/signgate", "kubeletCredentialProviders.enabled=true",
		"kubeletCredentialProviders.config="+n.config, "kubeletCredentialProviders.binDir="+n.binDir,
		"kubeletCredentialProviders.configType="+n.configType); err != nil {
		t.Fatal(err)
	}
	enabled := true
	disable = func() {
		if !enabled {
			return
		}
		enabled = false
		if err := C.HelmUpgrade(helm, "../../charts/signgate", "kubeletCredentialProviders.enabled=false", "kubeletCredentialProviders.configType=File"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(disable)
	return disable
}

// pushSignedTo pushes a busybox image (through the suite's registry) to
// repo in reg, signs it with k1 there, and returns it named in ECR.
func pushSignedTo(t *testing.T, reg *harness.AuthRegistry, repo string) name.Digest {
	t.Helper()
	dg, err := E.PushSignedBusybox(reg, E.Registry+"/credprov-src/"+repo+":v1", repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest(ecrHost + "/" + repo + "@" + dg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// setKubeletArgs restarts the kubelet with args added to its own; the
// pods it runs go on running.
func setKubeletArgs(t *testing.T, args ...string) {
	t.Helper()
	C.StopKubelet()
	C.KubeletArgs = args
	if err := C.StartKubelet(); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(C.Dir, "kubelet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^healthzPort: (\d+)$`).FindSubmatch(cfg)
	if m == nil {
		t.Fatal("kubelet.yaml has no healthzPort")
	}
	if err := harness.WaitFor(time.Minute, func() error {
		r, err := http.Get("http://127.0.0.1:" + string(m[1]) + "/healthz")
		if err != nil {
			return err
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: %s", r.Status)
		}
		return nil
	}); err != nil {
		t.Fatalf("the kubelet did not come back: %v", err)
	}
	// Healthy is not yet synced: until the restarted kubelet knows its
	// pods again it answers their logs with 404, which the next test reads.
	if err := harness.WaitFor(time.Minute, func() error {
		out, err := C.Kubectl("-n", "signgate-system", "logs", "ds/signgate", "--tail=1")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}); err != nil {
		t.Fatalf("the restarted kubelet does not serve signgate's logs: %v", err)
	}
}

// hasLine says whether one line of logs holds every one of want.
func hasLine(logs string, want ...string) bool {
	for _, l := range strings.Split(logs, "\n") {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return true
		}
	}
	return false
}
