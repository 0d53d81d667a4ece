package podsecrets

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// kubeconfig is what podsecrets reads of a kubeconfig file: the current
// context's cluster and user. Exec plugins and auth providers are not run:
// signgate runs only what its own config names.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server string `yaml:"server"`
			CA     string `yaml:"certificate-authority"`
			CAData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token     string `yaml:"token"`
			TokenFile string `yaml:"tokenFile"`
			Cert      string `yaml:"client-certificate"`
			CertData  string `yaml:"client-certificate-data"`
			Key       string `yaml:"client-key"`
			KeyData   string `yaml:"client-key-data"`
			Exec      any    `yaml:"exec"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// FromKubeconfig is the connection path's current context describes: for
// signgate run by systemd, outside any pod. Relative file names in it are
// relative to its directory, as kubectl reads them.
func FromKubeconfig(path string) (Conn, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Conn{}, fmt.Errorf("kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return Conn{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	fail := func(f string, a ...any) (Conn, error) {
		return Conn{}, fmt.Errorf("kubeconfig %s: %s", path, fmt.Sprintf(f, a...))
	}
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" {
		return fail("no current-context (or it names no context)")
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var c Conn
	found := false
	for _, cl := range kc.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		c.Server, c.CAFile = cl.Cluster.Server, rel(cl.Cluster.CA)
		if cl.Cluster.CAData != "" {
			if c.CAData, err = base64.StdEncoding.DecodeString(cl.Cluster.CAData); err != nil {
				return fail("cluster %s: certificate-authority-data is not base64", clusterName)
			}
		}
	}
	if !found {
		return fail("context %q names cluster %q, which is not there", kc.CurrentContext, clusterName)
	}
	found = false
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		found = true
		if u.User.Exec != nil {
			return fail("user %s: exec credential plugins are not run; use a token, tokenFile or client certificate", userName)
		}
		c.Token, c.TokenFile = u.User.Token, rel(u.User.TokenFile)
		c.CertFile, c.KeyFile = rel(u.User.Cert), rel(u.User.Key)
		for _, d := range []struct {
			in  string
			out *[]byte
			key string
		}{{u.User.CertData, &c.CertData, "client-certificate-data"}, {u.User.KeyData, &c.KeyData, "client-key-data"}} {
			if d.in == "" {
				continue
			}
			if *d.out, err = base64.StdEncoding.DecodeString(d.in); err != nil {
				return fail("user %s: %s is not base64", userName, d.key)
			}
		}
	}
	if !found {
		return fail("context %q names user %q, which is not there", kc.CurrentContext, userName)
	}
	return c, nil
}
