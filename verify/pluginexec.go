package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signgate/signgate/keystore"
)

// maxPluginOutput bounds what a plugin may write: its answers are a few
// hundred bytes.
const maxPluginOutput = 1 << 20

// execPlugin runs one configured plugin by its absolute path, for
// notation-go. It answers only the verification commands.
type execPlugin struct {
	spec    *NotationPlugin
	run     *pluginRun
	answers *answerCache
	meta    *answerCache
	env     []string // what it runs with: its answers depend on it (region, credentials)
}

// cacheKey is what an answer depends on: the plugin (name, executable and
// the file loaded there), the environment it runs with, and the request
// (the signature and the trust policy, for VerifySignature).
func (p *execPlugin) cacheKey(request []byte) string {
	h := sha256.New()
	f := p.spec.File
	fmt.Fprintf(h, "%q %q %d %d %d %d %d\n", p.spec.Name, p.spec.exe(), f.Dev, f.Ino, f.Size, f.Mtime, f.Ctime)
	for _, kv := range p.env {
		fmt.Fprintf(h, "%q\n", kv)
	}
	h.Write(request)
	return hex.EncodeToString(h.Sum(nil))
}

var errNotSigning = errors.New("signgate verifies; it never asks a plugin to sign")

func (p *execPlugin) DescribeKey(context.Context, *plugin.DescribeKeyRequest) (*plugin.DescribeKeyResponse, error) {
	return nil, errNotSigning
}

func (p *execPlugin) GenerateSignature(context.Context, *plugin.GenerateSignatureRequest) (*plugin.GenerateSignatureResponse, error) {
	return nil, errNotSigning
}

func (p *execPlugin) GenerateEnvelope(context.Context, *plugin.GenerateEnvelopeRequest) (*plugin.GenerateEnvelopeResponse, error) {
	return nil, errNotSigning
}

// GetMetadata asks the plugin what it is; the answer must name the plugin
// the signature asked for and speak notation's contract.
func (p *execPlugin) GetMetadata(ctx context.Context, req *plugin.GetMetadataRequest) (*plugin.GetMetadataResponse, error) {
	key := p.cacheKey(nil)
	if v, ok := p.meta.get(key); ok {
		return v.(*plugin.GetMetadataResponse), nil
	}
	var md plugin.GetMetadataResponse
	if err := p.exec(ctx, req, &md); err != nil {
		p.run.record(&PluginAnswer{Plugin: p.spec.Name, Error: err.Error()})
		return nil, err
	}
	var bad string
	switch {
	case md.Name != p.spec.Name:
		bad = fmt.Sprintf("calls itself %q", md.Name)
	case md.Version == "":
		bad = "gives no version"
	case !slices.Contains(md.SupportedContractVersions, plugin.ContractVersion):
		bad = fmt.Sprintf("does not support contract version %s", plugin.ContractVersion)
	}
	if bad != "" {
		err := fmt.Errorf("verification plugin %q (%s) %s", p.spec.Name, p.spec.Path, bad)
		p.run.record(&PluginAnswer{Plugin: p.spec.Name, Error: err.Error()})
		return nil, err
	}
	p.meta.put(key, &md, p.spec.CacheTTL)
	return &md, nil
}

// VerifySignature asks the plugin to verify what notation-go delegates to
// it; an answer that does not cover every capability asked is refused here
// (notation-go would also find it inconclusive). Answers are reused for
// the same request until CacheTTL.
func (p *execPlugin) VerifySignature(ctx context.Context, req *plugin.VerifySignatureRequest) (*plugin.VerifySignatureResponse, error) {
	if s := req.Signature.CriticalAttributes.SigningScheme; s != string(signature.SigningSchemeX509SigningAuthority) || p.run.kind != keystore.CertSigningAuthority {
		// Get offers a plugin only under a signing_authority root, whose
		// signatures are of this scheme; checked again where it is seen.
		err := fmt.Errorf("verification plugin %q, signing scheme %q: %w", p.spec.Name, s, ErrPluginNotForScheme)
		p.run.record(&PluginAnswer{Plugin: p.spec.Name, Error: err.Error()})
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	key := p.cacheKey(body)
	if v, ok := p.answers.get(key); ok {
		resp := v.(*plugin.VerifySignatureResponse)
		p.record(req, resp, true)
		return resp, nil
	}
	var resp plugin.VerifySignatureResponse
	if err := p.exec(ctx, req, &resp); err != nil {
		p.run.record(&PluginAnswer{Plugin: p.spec.Name, Error: err.Error()})
		return nil, err
	}
	for _, c := range req.TrustPolicy.SignatureVerification {
		if resp.VerificationResults[c] == nil {
			err := fmt.Errorf("verification plugin %q (%s) gave no answer for %s", p.spec.Name, p.spec.Path, c)
			p.run.record(&PluginAnswer{Plugin: p.spec.Name, Error: err.Error()})
			return nil, err
		}
	}
	// Its reasons reach notation-go's errors, the verdict and the log:
	// one short line each.
	for _, r := range resp.VerificationResults {
		if r != nil {
			r.Reason = clip(r.Reason)
		}
	}
	p.answers.put(key, &resp, p.spec.CacheTTL)
	p.record(req, &resp, false)
	return &resp, nil
}

func (p *execPlugin) record(req *plugin.VerifySignatureRequest, resp *plugin.VerifySignatureResponse, cached bool) {
	a := &PluginAnswer{Plugin: p.spec.Name, Results: map[string]string{}, Cached: cached}
	for _, c := range req.TrustPolicy.SignatureVerification {
		r := resp.VerificationResults[c]
		switch {
		case r.Success:
			a.Results[string(c)] = "ok"
		case r.Reason != "":
			a.Results[string(c)] = clip(r.Reason)
		default:
			a.Results[string(c)] = "failed"
		}
	}
	p.run.record(a)
}

// exec runs the plugin once: its absolute path, the command as its only
// argument, the request on stdin, within its timeout, in a process group
// of its own that is killed whole when the time is up.
func (p *execPlugin) exec(ctx context.Context, req plugin.Request, resp any) error {
	what := fmt.Sprintf("verification plugin %q (%s) %s", p.spec.Name, p.spec.Path, req.Command())
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := p.spec.checkFile(); err != nil {
		return fmt.Errorf("%s: not run: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.spec.Timeout)
	defer cancel()
	cmd := exec.Command(p.spec.exe(), string(req.Command()))
	cmd.Args[0] = p.spec.Path // a plugin may know itself by the name it was installed as
	cmd.Stdin = bytes.NewReader(data)
	cmd.Env = p.env
	stdout, stderr := &capped{max: maxPluginOutput}, &capped{max: maxPluginOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 100 * time.Millisecond // a child that left the group holding the pipes open
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { waitExited(pid); close(exited) }()
	select {
	case <-exited:
	case <-ctx.Done():
	}
	// The plugin is not reaped yet, so its pid, which is its group's id,
	// is still its own: the kill reaches what it left running, never a
	// group that reused the id.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: no answer within %v", what, p.spec.Timeout)
	case err != nil:
		// The protocol's error, on stderr; anything else is not repeated
		// (it may hold what the plugin should not have printed).
		var pe plugin.Error
		if json.Unmarshal(stderr.Bytes(), &pe) == nil && pe.ErrCode != "" {
			return fmt.Errorf("%s failed: %s: %s", what, clip(string(pe.ErrCode)), clip(pe.Message))
		}
		return fmt.Errorf("%s failed (%v) without an error in the plugin protocol", what, err)
	case stdout.over:
		return fmt.Errorf("%s: answered more than %d bytes", what, maxPluginOutput)
	}
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	if err := dec.Decode(resp); err != nil || dec.More() {
		return fmt.Errorf("%s: the answer is not the plugin protocol's JSON", what)
	}
	return nil
}

// waitExited returns once process pid has exited, leaving it unreaped
// (waitid with WNOWAIT), or when it cannot be waited for.
func waitExited(pid int) {
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// waitid's constants (linux/wait.h); the syscall package lacks them.
const (
	pPID    = 1
	wExited = 0x4
	wNoWait = 0x1000000
)

// clip keeps a plugin's message to one short line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// capped is a buffer that keeps at most max bytes and notes the excess.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(b []byte) (int, error) {
	if room := c.max - c.Len(); len(b) > room {
		c.over = true
		if room > 0 {
			c.Buffer.Write(b[:room])
		}
		return len(b), nil
	}
	return c.Buffer.Write(b)
}
