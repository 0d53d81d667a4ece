package kmstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/sigstore/sigstore/pkg/signature"
	sigaws "github.com/sigstore/sigstore/pkg/signature/kms/aws"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// LocalKMS is a running nsmithuk/local-kms, the AWS KMS emulator, with the
// environment pointing the AWS SDK at it (AWS_ENDPOINT_URL_KMS and dummy
// credentials).
type LocalKMS struct {
	URL    string
	Client *kms.Client
	cmd    *exec.Cmd
}

// LocalKMSBinary finds the emulator: $SIGNGATE_LOCAL_KMS, or
// _output/bin/local-kms in the repository (make tools builds it).
func LocalKMSBinary() string {
	if p := os.Getenv("SIGNGATE_LOCAL_KMS"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "_output", "bin", "local-kms")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			break
		}
	}
	return ""
}

// TB is what the helpers need of a test: TB, or a program's
// adapter (the demo's).
type TB interface {
	Helper()
	Fatal(args ...any)
}

// StartLocalKMS runs the emulator for the test, with the AWS SDK's
// environment pointing at it. Without the binary the test is skipped, or
// fails under make (see testenv).
func StartLocalKMS(t *testing.T) *LocalKMS {
	t.Helper()
	bin := LocalKMSBinary()
	if bin == "" {
		testenv.Skip(t, "local-kms not found: run make tools, or set SIGNGATE_LOCAL_KMS")
	}
	l, err := RunLocalKMS(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	for k, v := range l.Env() {
		t.Setenv(k, v)
	}
	return l
}

// RunLocalKMS starts the emulator with its data and log in dir. The AWS SDK
// finds it through the variables Env returns.
func RunLocalKMS(bin, dir string) (*LocalKMS, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "KMS_DATA_PATH="+dir, "KMS_SEED_PATH=/nonexistent", "KMS_REGION=eu-west-2")
	log, err := os.Create(filepath.Join(dir, "local-kms.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &LocalKMS{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			l.Stop()
			b, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("local-kms did not start: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-2"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-secret", "")))
	if err != nil {
		l.Stop()
		return nil, err
	}
	l.Client = kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(l.URL) })
	return l, nil
}

// Env is the environment that points the AWS SDK (and so signgate and the
// cosign CLI) at the emulator, with dummy credentials and no shared files.
func (l *LocalKMS) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_KMS": l.URL, "AWS_REGION": "eu-west-2",
		"AWS_ACCESS_KEY_ID": "AKIDLOCALKMS", "AWS_SECRET_ACCESS_KEY": "local-kms-secret",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
	}
}

// Stop ends the emulator.
func (l *LocalKMS) Stop() {
	_ = l.cmd.Process.Kill()
	_ = l.cmd.Wait()
}

// CreateKey makes an ECC_NIST_P256 signing key and returns its ID.
func (l *LocalKMS) CreateKey(t TB) string {
	out, err := l.Client.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// CreateKeyOf makes a key of any spec and usage, such as one signgate cannot
// verify with (ECC_SECG_P256K1), and returns its ID.
func (l *LocalKMS) CreateKeyOf(t TB, spec types.KeySpec, usage types.KeyUsageType) string {
	out, err := l.Client.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// PointAlias creates alias (e.g. "alias/release") or moves it to keyID: a
// rotation, for AWS.
func (l *LocalKMS) PointAlias(t TB, alias, keyID string) {
	ctx := context.Background()
	if _, err := l.Client.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)}); err == nil {
		return
	}
	if _, err := l.Client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
}

// DisableKey disables a key.
func (l *LocalKMS) DisableKey(t TB, keyID string) {
	if _, err := l.Client.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
}

// ScheduleDeletion schedules a key for deletion in 7 days.
func (l *LocalKMS) ScheduleDeletion(t TB, keyID string) {
	if _, err := l.Client.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
}

// Signer signs with the key in the emulator, through sigstore's AWS KMS
// signer, as `cosign sign --key awskms:///...` does.
func (l *LocalKMS) Signer(t TB, ref string) signature.Signer {
	sv, err := sigaws.LoadSignerVerifier(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}
