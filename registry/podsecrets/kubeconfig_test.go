package podsecrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A kubeconfig (signgate under systemd) gives the current context's
// server, CA and credential, relative files against its own directory;
// an exec plugin is refused, not run.
func TestKubeconfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "kubeconfig")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write(`apiVersion: v1
kind: Config
current-context: node
clusters:
- name: other
  cluster: {server: "https://wrong:1"}
- name: c
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}
users:
- name: signgate
  user: {tokenFile: token}
contexts:
- name: node
  context: {cluster: c, user: signgate}
`)
	c, err := FromKubeconfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://10.0.0.1:6443" || c.CAFile != filepath.Join(dir, "ca.crt") || c.TokenFile != filepath.Join(dir, "token") {
		t.Errorf("got %+v", c)
	}
	p = write(strings.Replace(string(must(os.ReadFile(p))), "{tokenFile: token}", "{exec: {command: aws}}", 1))
	if _, err := FromKubeconfig(p); err == nil || !strings.Contains(err.Error(), "exec credential plugins are not run") {
		t.Errorf("exec: %v", err)
	}
	p = write("current-context: nowhere\n")
	if _, err := FromKubeconfig(p); err == nil || !strings.Contains(err.Error(), "no current-context") {
		t.Errorf("no context: %v", err)
	}
	if _, err := NewAPI(Conn{Server: "http://10.0.0.1:6443", Token: "x"}); err == nil {
		t.Error("plain http accepted")
	}
	if _, err := NewAPI(Conn{Server: "https://10.0.0.1:6443"}); err == nil || !strings.Contains(err.Error(), "no credential") {
		t.Errorf("no credential: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
