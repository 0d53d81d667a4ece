package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// NodeName is the one node's name in a Cluster. The API server reaches the
// kubelet (logs, exec) by this name: "localhost" resolves from /etc/hosts,
// with no DNS, and the kubelet refuses a loopback node IP.
const NodeName = "localhost"

// Cluster is a one-node Kubernetes cluster on an Env's containerd (started
// with Options.Node): etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and the kubelet, all built from the module proxy
// (integration/tools/kubernetes), talking over loopback with certificates
// made here. There is no CNI plugin: pods use the node's network, and the
// node reports Ready once a network config is in Env.CNIConfDir (as a CNI
// agent would write it).
type Cluster struct {
	Env        *Env
	Dir        string // Env.Dir/k8s: certificates, kubeconfig, data
	Bin        string // etcd, kube-apiserver, ..., kubectl
	Kubeconfig string
	StaticPods string // the kubelet's static pod directory
	// KubeletArgs are more flags for the kubelet, from its next start
	// (e.g. --image-credential-provider-config).
	KubeletArgs []string

	apiPort int
	kubelet *exec.Cmd
	procs   []*exec.Cmd
}

// CNIConfDir is where containerd looks for a network config.
func (e *Env) CNIConfDir() string { return filepath.Join(e.Dir, "cni", "net.d") }

// StartCluster brings the control plane and the kubelet up on e, and waits
// for the node to register (not to be Ready: see Cluster).
func StartCluster(e *Env, bin string) (*Cluster, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Env: e, Dir: filepath.Join(e.Dir, "k8s"), Bin: abs}
	c.StaticPods = filepath.Join(c.Dir, "manifests")
	for _, d := range []string{c.Dir, c.StaticPods, e.CNIConfDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return c, err
		}
	}
	if err := c.writePKI(); err != nil {
		return c, fmt.Errorf("certificates: %w", err)
	}
	ports := make([]int, 8)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return c, err
		}
	}
	etcdClient, etcdPeer := ports[0], ports[1]
	c.apiPort = ports[2]
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: signgate
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: signgate
  context:
    cluster: signgate
    user: admin
current-context: signgate
`, c.apiPort, c.file("ca.crt"), c.file("admin.crt"), c.file("admin.key"))), 0o600); err != nil {
		return c, err
	}

	peer := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	if err := c.start("etcd", "etcd", "--name", "default", "--data-dir", c.file("etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default="+peer, "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return c, err
	}
	if err := c.start("kube-apiserver", "kube-apiserver",
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", fmt.Sprint(c.apiPort),
		"--cert-dir", c.file("apiserver"),
		"--tls-cert-file", c.file("apiserver.crt"), "--tls-private-key-file", c.file("apiserver.key"),
		"--client-ca-file", c.file("ca.crt"),
		"--service-account-key-file", c.file("sa.key"), "--service-account-signing-key-file", c.file("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--authorization-mode", "RBAC",
		"--kubelet-client-certificate", c.file("admin.crt"), "--kubelet-client-key", c.file("admin.key"),
		"--endpoint-reconciler-type", "none",
		"--kubelet-preferred-address-types", "Hostname",
		"--feature-gates", "ImageVolume=true",
		"--profiling=false"); err != nil {
		return c, err
	}
	if err := WaitFor(90*time.Second, c.apiReady); err != nil {
		return c, fmt.Errorf("kube-apiserver did not become ready: %w", err)
	}
	if err := c.start("kube-controller-manager", "kube-controller-manager",
		"--kubeconfig", c.Kubeconfig, "--authentication-kubeconfig", c.Kubeconfig, "--authorization-kubeconfig", c.Kubeconfig,
		"--service-account-private-key-file", c.file("sa.key"), "--root-ca-file", c.file("ca.crt"),
		"--cluster-signing-cert-file", c.file("ca.crt"), "--cluster-signing-key-file", c.file("ca.key"),
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(ports[3]),
		// Each controller acts as its own service account, as kubeadm and
		// the managed clusters run it: the admission policy knows the
		// DaemonSet controller by that name.
		"--use-service-account-credentials=true",
		"--profiling=false"); err != nil {
		return c, err
	}
	if err := c.start("kube-scheduler", "kube-scheduler",
		"--kubeconfig", c.Kubeconfig, "--authentication-kubeconfig", c.Kubeconfig, "--authorization-kubeconfig", c.Kubeconfig,
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(ports[4]),
		"--profiling=false"); err != nil {
		return c, err
	}
	if err := os.WriteFile(c.file("kubelet.yaml"), []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
containerRuntimeEndpoint: unix://%[4]s
# This host: cgroup v1, no systemd, swap allowed.
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
localStorageCapacityIsolation: false
staticPodPath: %[5]s
podLogsDir: %[1]s/pod-logs
# Short periods: static pods, ConfigMap volumes and pod retries within seconds.
fileCheckFrequency: 2s
syncFrequency: 5s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %[1]s/ca.crt
authorization:
  mode: AlwaysAllow
featureGates:
  ImageVolume: true
`, c.Dir, ports[5], ports[6], e.ContainerdSock, c.StaticPods)), 0o644); err != nil {
		return c, err
	}
	if err := c.StartKubelet(); err != nil {
		return c, err
	}
	if err := WaitFor(90*time.Second, func() error {
		_, err := c.Kubectl("get", "node", NodeName)
		return err
	}); err != nil {
		return c, fmt.Errorf("the kubelet did not register the node: %w", err)
	}
	// Pods in default need its service account, made by the controller manager.
	if err := WaitFor(60*time.Second, func() error {
		_, err := c.Kubectl("-n", "default", "get", "serviceaccount", "default")
		return err
	}); err != nil {
		return c, fmt.Errorf("no default service account: %w", err)
	}
	return c, nil
}

// StartKubelet starts the kubelet (again, after StopKubelet).
func (c *Cluster) StartKubelet() error {
	var err error
	c.kubelet, err = c.Env.start("kubelet", filepath.Join(c.Bin, "kubelet"), append([]string{
		"--config", c.file("kubelet.yaml"), "--kubeconfig", c.Kubeconfig,
		"--root-dir", c.file("kubelet"), "--cert-dir", c.file("kubelet-pki"),
		"--hostname-override", NodeName, "--v", "1"}, c.KubeletArgs...)...)
	return err
}

// StopKubelet kills the kubelet, as a node losing power would.
func (c *Cluster) StopKubelet() {
	if c.kubelet != nil && c.kubelet.Process != nil {
		_ = c.kubelet.Process.Kill()
		for i := 0; i < 100 && c.kubelet.Process.Signal(syscall.Signal(0)) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Reboot plays a node's restart: the kubelet dies, every pod's containers
// go, containerd restarts with nothing running, the network config is gone
// (a CNI agent writes it again when it starts), and the kubelet comes back
// to start the node's pods again.
func (c *Cluster) Reboot() error {
	c.StopKubelet()
	if out, err := c.Env.Crictl("rmp", "-fa"); err != nil {
		return fmt.Errorf("crictl rmp -fa: %v: %s", err, out)
	}
	if err := os.RemoveAll(c.Env.CNIConfDir()); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Env.CNIConfDir(), 0o755); err != nil {
		return err
	}
	if err := c.Env.RestartContainerd(); err != nil {
		return err
	}
	return c.StartKubelet()
}

func (c *Cluster) file(n string) string { return filepath.Join(c.Dir, n) }

func (c *Cluster) start(name, bin string, args ...string) error {
	cmd, err := c.Env.start(name, filepath.Join(c.Bin, bin), args...)
	if err == nil {
		c.procs = append(c.procs, cmd)
	}
	return err
}

func (c *Cluster) apiReady() error {
	cert, err := tls.LoadX509KeyPair(c.file("admin.crt"), c.file("admin.key"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.file("ca.crt"))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	r, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", c.apiPort))
	if err != nil {
		return err
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", r.Status)
	}
	return nil
}

// Kubectl runs kubectl against the cluster.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	return c.KubectlIn("", args...)
}

// KubectlIn runs kubectl with stdin (for `apply -f -`).
func (c *Cluster) KubectlIn(stdin string, args ...string) (string, error) {
	// Longer than any --timeout a test gives kubectl itself.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Stop deletes what the kubelet started and stops the cluster; the Env is
// stopped apart.
func (c *Cluster) Stop() {
	c.StopKubelet()
	for i := len(c.procs) - 1; i >= 0; i-- {
		if p := c.procs[i].Process; p != nil {
			_ = p.Kill()
		}
	}
}

// writePKI makes a CA, the API server's serving certificate, one client
// certificate (system:masters) every component uses, and the service
// account signing key.
func (c *Cluster) writePKI() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signgate test cluster CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(c.file("ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	if err := writeKey(c.file("ca.key"), caKey); err != nil {
		return err
	}
	leaf := func(n string, serial int64, t *x509.Certificate) error {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t.SerialNumber, t.NotBefore, t.NotAfter = big.NewInt(serial), now.Add(-time.Hour), now.Add(24*time.Hour)
		t.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &k.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := writePEM(c.file(n+".crt"), "CERTIFICATE", der); err != nil {
			return err
		}
		return writeKey(c.file(n+".key"), k)
	}
	if err := leaf("apiserver", 2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
	}); err != nil {
		return err
	}
	if err := leaf("admin", 3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	return writeKey(c.file("sa.key"), saKey)
}

func writePEM(p, typ string, der []byte) error {
	return os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func writeKey(p string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return writePEM(p, "EC PRIVATE KEY", der)
}

// SigngateManifest renders the shipped packaging/kubernetes/signgate.yaml
// for this cluster, changing only what a user is told to change: the image,
// pinned by digest in the DaemonSet and in the signgate-itself policy; the
// placeholder key replaced by keyPEM (named "ci"); and the catch-all policy
// enforcing rather than auditing. Each change must match the shipped text
// exactly once, so an edit to the manifest that this misses fails the test.
func SigngateManifest(shipped string, image name.Digest, keyPEM string) (string, error) {
	out := shipped
	repl := func(old, new string) error {
		if n := strings.Count(out, old); n != 1 {
			return fmt.Errorf("signgate.yaml: %q occurs %d times, want once", old, n)
		}
		out = strings.Replace(out, old, new, 1)
		return nil
	}
	begin, end := strings.Index(out, "    -----BEGIN PUBLIC KEY-----"), strings.Index(out, "-----END PUBLIC KEY-----\n")
	if begin < 0 || end < begin {
		return "", fmt.Errorf("signgate.yaml: no placeholder key")
	}
	var key []string
	for _, l := range strings.Split(strings.TrimSpace(keyPEM), "\n") {
		key = append(key, "    "+l)
	}
	out = out[:begin] + strings.Join(key, "\n") + "\n" + out[end+len("-----END PUBLIC KEY-----\n"):]
	for _, r := range [][2]string{
		{"image: ghcr.io/signgate/signgate:0.1.0", "image: " + image.String()},
		{`scopes = ["ghcr.io/signgate/signgate"]`, fmt.Sprintf("scopes = [%q]", image.Context().String())},
		{"[keys.placeholder]", "[keys.ci]"},
		{`keys = ["placeholder"]`, `keys = ["ci"]`},
		{"name = \"catch-all\"\n    scopes = [\"**\"]\n    mode = \"audit\"\n", "name = \"everything\"\n    scopes = [\"**\"]\n"},
	} {
		if err := repl(r[0], r[1]); err != nil {
			return "", err
		}
	}
	return out, nil
}

// PushLayout pushes the image in an OCI layout (make image writes one) to
// ref and returns its digest.
func PushLayout(dir, ref string) (name.Digest, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return name.Digest{}, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return name.Digest{}, err
	}
	if len(m.Manifests) != 1 {
		return name.Digest{}, fmt.Errorf("%s: %d images, want 1", dir, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		return name.Digest{}, err
	}
	return pushImage(img, ref)
}

// Rebuild pushes img again to ref with one more label: the same program,
// another digest, as a new release would be.
func Rebuild(img name.Digest, ref, label string) (name.Digest, error) {
	return RebuildConfig(img, ref, func(c *v1.Config) { c.Labels["dev.signgate.test.build"] = label })
}

// RebuildConfig pushes img again to ref with its config changed by edit:
// every layer the same, another config and so another image (what a
// registry that can move a tag but cannot sign can publish).
func RebuildConfig(img name.Digest, ref string, edit func(*v1.Config)) (name.Digest, error) {
	i, err := remote.Image(img)
	if err != nil {
		return name.Digest{}, err
	}
	cf, err := i.ConfigFile()
	if err != nil {
		return name.Digest{}, err
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	edit(&cf.Config)
	if i, err = mutate.ConfigFile(i, cf); err != nil {
		return name.Digest{}, err
	}
	return pushImage(i, ref)
}

func pushImage(img v1.Image, ref string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(r, img); err != nil {
		return name.Digest{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// Apply applies YAML through the API server.
func (c *Cluster) Apply(yaml string) error {
	if out, err := c.KubectlIn(yaml, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	return nil
}

// WaitReady waits until a pod matching selector in ns exists and is Ready.
func (c *Cluster) WaitReady(ns, selector string, d time.Duration) error {
	return WaitFor(d, func() error {
		out, err := c.Kubectl("-n", ns, "get", "pods", "-l", selector, "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasSuffix(out, " True") || strings.Count(out, "\n") > 0 {
			return fmt.Errorf("pods %s in %s: %q", selector, ns, out)
		}
		return nil
	})
}

// InstallSigngate applies the manifest and waits for signgate's pod to be
// Ready (its readiness probe: connected to NRI and deciding).
func (c *Cluster) InstallSigngate(manifest string) error {
	if err := c.Apply(manifest); err != nil {
		return err
	}
	if err := c.WaitReady("signgate-system", "app.kubernetes.io/name=signgate", 3*time.Minute); err != nil {
		return fmt.Errorf("signgate's pod: %w", err)
	}
	return nil
}

// NetworkAgent is a stand-in for a CNI agent (Calico, Cilium, ...): a
// host-network DaemonSet, not annotated for bootstrap, whose container
// writes the node's network config when it starts, as those agents do.
// Until it runs the node is not Ready and ordinary pods are not scheduled.
func (c *Cluster) NetworkAgent(image name.Digest) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: net-agent
  namespace: kube-system
spec:
  selector:
    matchLabels: {app: net-agent}
  template:
    metadata:
      labels: {app: net-agent}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: %s
        command: ["/bin/busybox", "sh", "-c", "echo '{\"cniVersion\": \"1.0.0\", \"name\": \"lo\", \"plugins\": [{\"type\": \"loopback\"}]}' > /host/net.d/10-lo.conflist && exec /bin/busybox sleep 86400"]
        volumeMounts: [{name: netd, mountPath: /host/net.d}]
      volumes:
      - name: netd
        hostPath: {path: %s, type: DirectoryOrCreate}
`, image, c.Env.CNIConfDir())
}

// WaitNodeReady waits for the node's Ready condition.
func (c *Cluster) WaitNodeReady(d time.Duration) error {
	return WaitFor(d, func() error {
		out, err := c.Kubectl("get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("node Ready=%q (%v)", out, err)
		}
		return nil
	})
}

// KubernetesSetup says where StartKubernetes finds its parts.
type KubernetesSetup struct {
	Bin        string // crictl, cosign, olareg (as Options.Bin)
	Containerd string // a containerd with the NRI validator (2.2 or later)
	K8sBin     string // etcd, kube-apiserver, ..., kubectl
	Layout     string // signgate's image as an OCI layout (make image)
	Repo       string // the repository's root, for packaging/ and charts/
	// Helm, when set, installs signgate from charts/signgate with helm
	// install (SigngateValues) instead of applying the plain manifest.
	Helm string
	// ScrapePort is the chart's metrics.port (with Helm); 0 for a free one.
	ScrapePort int
}

// StartKubernetes stands up what make k8s-test and make demo-k8s share: a
// node whose containerd requires signgate (the DaemonSet drop-in), the
// cluster, signgate from the shipped manifest (its image pushed to the
// test registry and pinned by digest; the suite's key k1 in place of the
// placeholder), and the network agent, and waits for the node to be Ready.
// It returns the manifest as applied. The Env and Cluster, when not nil,
// must be stopped, on error too.
func StartKubernetes(s KubernetesSetup, progress func(string)) (e *Env, c *Cluster, manifest string, err error) {
	start := time.Now()
	say := func(what string) { progress(fmt.Sprintf("%s (%s)", what, time.Since(start).Round(time.Second))) }
	e, err = Start(Options{Bin: s.Bin, Containerd: s.Containerd, Node: true,
		DropIn: filepath.Join(s.Repo, "packaging/kubernetes/containerd-daemonset.toml")})
	if err != nil {
		return e, nil, "", err
	}
	if !e.Containerd.HasValidator() {
		return e, nil, "", fmt.Errorf("containerd %s has no NRI validator: the DaemonSet's drop-in needs 2.2 or later", e.Containerd.Version)
	}
	// The sandbox image is verified like any other (the shipped policy
	// says so): sign it.
	pause, err := name.ParseReference(e.Registry + "/pause:1.0")
	if err != nil {
		return e, nil, "", err
	}
	desc, err := remote.Head(pause)
	if err != nil {
		return e, nil, "", err
	}
	if err := e.Signers["k1"].SignLegacy(pause.Context().Digest(desc.Digest.String())); err != nil {
		return e, nil, "", err
	}
	img, err := PushLayout(s.Layout, e.Registry+"/signgate/signgate:test")
	if err != nil {
		return e, nil, "", fmt.Errorf("pushing signgate's image from %s: %w", s.Layout, err)
	}
	if s.Helm == "" {
		shipped, err := os.ReadFile(filepath.Join(s.Repo, "packaging/kubernetes/signgate.yaml"))
		if err != nil {
			return e, nil, "", err
		}
		if manifest, err = SigngateManifest(string(shipped), img, e.Signers["k1"].PublicPEM()); err != nil {
			return e, nil, "", err
		}
	}
	if c, err = StartCluster(e, s.K8sBin); err != nil {
		return e, c, "", err
	}
	say("control plane and kubelet up; the node requires signgate")
	if s.Helm != "" {
		if s.ScrapePort == 0 {
			// Not 9465: another cluster on this machine may hold it.
			if s.ScrapePort, err = freePort(); err != nil {
				return e, c, "", err
			}
		}
		if manifest, err = c.HelmInstall(s.Helm, filepath.Join(s.Repo, "charts/signgate"), SigngateValues(img, e.Signers["k1"].PublicPEM(), s.ScrapePort)); err != nil {
			return e, c, "", err
		}
		if err := c.WaitReady("signgate-system", "app.kubernetes.io/name=signgate", 3*time.Minute); err != nil {
			return e, c, "", fmt.Errorf("signgate's pod: %w", err)
		}
		say("signgate installed with helm install; its DaemonSet pod Ready (started through the bootstrap annotation)")
	} else {
		if err := c.InstallSigngate(manifest); err != nil {
			return e, c, "", err
		}
		say("signgate's DaemonSet pod Ready (started through the bootstrap annotation)")
	}
	agent, err := e.Image("system/net-agent", "k1")
	if err != nil {
		return e, c, "", err
	}
	if err := c.Apply(c.NetworkAgent(agent)); err != nil {
		return e, c, "", err
	}
	if err := c.WaitNodeReady(2 * time.Minute); err != nil {
		return e, c, "", fmt.Errorf("after the network agent: %w", err)
	}
	say("the network agent admitted by signgate; node Ready")
	return e, c, manifest, nil
}

// SigngateImage is the image the DaemonSet in manifest runs.
func SigngateImage(manifest string) (name.Digest, error) {
	for _, l := range strings.Split(manifest, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "image: ") {
			return name.NewDigest(strings.TrimPrefix(t, "image: "))
		}
	}
	return name.Digest{}, fmt.Errorf("no image in the manifest")
}
