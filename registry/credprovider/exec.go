package credprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// request and response are the plugin protocol,
// credentialprovider.kubelet.k8s.io/v1.
type request struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Image      string `json:"image"`
}

type response struct {
	Kind          string                `json:"kind"`
	APIVersion    string                `json:"apiVersion"`
	CacheKeyType  string                `json:"cacheKeyType"`
	CacheDuration *string               `json:"cacheDuration"`
	Auth          map[string]Credential `json:"auth"`
}

// Credential is a username and password a provider gave.
type Credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// maxStderr bounds what of a plugin's stderr the debug log keeps.
const maxStderr = 512

// run executes p for image as the kubelet does: the request on stdin, the
// config's args, a minimal environment with the config's env after it
// (pluginEnv), and a timeout. Errors name the provider and quote neither
// its stdout, which holds the credentials, nor its stderr, which may
// (errors reach the CRI denial message tenants read): stderr goes to the
// daemon's log (log, if set) at debug level only.
func (p *provider) run(ctx context.Context, image string, timeout time.Duration, log *slog.Logger) (*response, error) {
	req, err := json.Marshal(request{Kind: "CredentialProviderRequest", APIVersion: p.apiVersion, Image: image})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, p.bin, p.args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(req), &stdout, &stderr
	cmd.Env = pluginEnv(p.env)
	cmd.WaitDelay = time.Second // a plugin's children holding its pipes open do not hold signgate
	err = cmd.Run()
	if stderr.Len() > 0 && log != nil {
		log.Debug("credential provider stderr", "provider", p.name, "image", image, "stderr", tail(stderr.String()))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("credential provider %s for %s: no answer within %s", p.name, image, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("credential provider %s for %s failed: %w", p.name, image, err)
	}
	var resp response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		// Not wrapped: the message may quote the output, credentials and all.
		return nil, fmt.Errorf("credential provider %s for %s: its answer is not a CredentialProviderResponse in JSON", p.name, image)
	}
	if resp.Kind != "CredentialProviderResponse" || resp.APIVersion != p.apiVersion {
		return nil, fmt.Errorf("credential provider %s for %s: answered kind %q, apiVersion %q; want CredentialProviderResponse, %s", p.name, image, resp.Kind, resp.APIVersion, p.apiVersion)
	}
	switch resp.CacheKeyType {
	case cacheImage, cacheRegistry, cacheGlobal:
	default:
		return nil, fmt.Errorf("credential provider %s for %s: cacheKeyType %q: want Image, Registry or Global", p.name, image, resp.CacheKeyType)
	}
	if resp.CacheDuration != nil {
		if _, err := time.ParseDuration(*resp.CacheDuration); err != nil {
			return nil, fmt.Errorf("credential provider %s for %s: cacheDuration %q is not a duration", p.name, image, *resp.CacheDuration)
		}
	}
	return &resp, nil
}

// tail is the end of a plugin's stderr, on one line, for the debug log.
func tail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxStderr {
		s = "…" + s[len(s)-maxStderr:]
	}
	return s
}
