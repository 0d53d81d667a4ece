package harness

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ECRProviderConfig is a kubelet CredentialProviderConfig running the real
// ecr-credential-provider against endpoint (an ECRStandIn's URL, through
// AWS_ENDPOINT_URL_ECR) with static test credentials: the same file for
// the kubelet and for signgate.
func ECRProviderConfig(endpoint, accessKey string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages:
      - "*.dkr.ecr.*.amazonaws.com"
      - "*.dkr.ecr.*.amazonaws.com.cn"
    defaultCacheDuration: "12h"
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    env:
      - {name: AWS_ENDPOINT_URL_ECR, value: %s}
      - {name: AWS_ACCESS_KEY_ID, value: %s}
      - {name: AWS_SECRET_ACCESS_KEY, value: signgate-test-secret-key}
      - {name: AWS_EC2_METADATA_DISABLED, value: "true"}
      - {name: AWS_CONFIG_FILE, value: /nonexistent}
      - {name: AWS_SHARED_CREDENTIALS_FILE, value: /nonexistent}
`, endpoint, accessKey)
}

// InstallECRProvider lays out a node's credential provider files in dir:
// config.yaml (ECRProviderConfig) and bin/ holding a copy of
// bin/ecr-credential-provider. A copy, not a link: a pod given the dir by
// hostPath (signgate's DaemonSet) runs it too.
func InstallECRProvider(dir, bin, endpoint, accessKey string) (config, binDir string, err error) {
	binDir = filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", "", err
	}
	if err := copyFile(filepath.Join(bin, "ecr-credential-provider"), filepath.Join(binDir, "ecr-credential-provider"), 0o755); err != nil {
		return "", "", err
	}
	config = filepath.Join(dir, "config.yaml")
	return config, binDir, os.WriteFile(config, []byte(ECRProviderConfig(endpoint, accessKey)), 0o644)
}

// RouteRegistryWithCA is RouteRegistry with the CA copied into registry's
// hosts directory (as containerd's docs lay it out), so that a pod given
// only the hosts directory (signgate's DaemonSet mounts /etc/containerd)
// trusts the server too. It returns the directory, to remove when done.
func (e *Env) RouteRegistryWithCA(registry, server, ca string) (string, error) {
	d := filepath.Join(e.certsDir, registry)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return d, err
	}
	if err := copyFile(ca, filepath.Join(d, "ca.crt"), 0o644); err != nil {
		return d, err
	}
	return d, e.RouteRegistry(registry, server, filepath.Join(d, "ca.crt"))
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// DockerCerts lays registry's certs.d directory out the Docker way, its
// CA as ca.crt and no hosts.toml, and returns the directory, to remove
// when done.
func (e *Env) DockerCerts(registry, ca string) (string, error) {
	d := filepath.Join(e.certsDir, registry)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return d, err
	}
	return d, copyFile(ca, filepath.Join(d, "ca.crt"), 0o644)
}
