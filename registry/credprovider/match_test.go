package credprovider

import "testing"

// The kubelet's own cases (k8s.io/kubernetes pkg/credentialprovider
// keyring_test.go TestURLsMatch, v1.34), and the plugin tests' matchImages.
func TestURLsMatchAsTheKubelet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		glob, target string
		want         bool
	}{
		{"*.kubernetes.io", "prefix.kubernetes.io", true},
		{"prefix.*.io", "prefix.kubernetes.io", true},
		{"prefix.kubernetes.*", "prefix.kubernetes.io", true},
		{"*-good.kubernetes.io", "prefix-good.kubernetes.io", true},
		{"*.kubernetes.io/blah", "prefix.kubernetes.io/blah", true},
		{"prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true},
		{"*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true},
		{"prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", true},
		{"*.kubernetes.io", "kubernetes.io", false},
		{"*.*.kubernetes.io", "prefix.kubernetes.io", false},
		{"*.*.kubernetes.io", "kubernetes.io", false},
		{"*kubernetes.io", "a.kubernetes.io", false},
		{"*kubernetes.io", "kubernetes.io", true},
		{"*.*.*.kubernetes.io", "a.b.c.kubernetes.io", true},
		{"*.kubernetes.io", "prefix.kubernetes.io:1111", false}, // ports must be equal
		{"*.kubernetes.io:1111", "prefix.kubernetes.io", false},
		{"prefix.kubernetes.io/foo", "prefix.kubernetes.io/bar", false}, // the path is a prefix
		{"*.registry.io:8080", "test.registry.io:8080/foo", true},
		{"*.*.registry.io", "foo.bar.registry.io/foo/bar", true},
		{"*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", true},
		{"*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app", false},
	} {
		if got, err := urlsMatch(c.glob, c.target); err != nil || got != c.want {
			t.Errorf("urlsMatch(%q, %q) = %v, %v; want %v", c.glob, c.target, got, err, c.want)
		}
	}
}

// An answer's auth map is a keyring: the most specific key wins, /v1/ and
// /v2/ mean the host, and Docker Hub's key serves docker.io images.
func TestKeyringAsTheKubelet(t *testing.T) {
	t.Parallel()
	k := newKeyring(map[string]Credential{
		"quay.io":                         {Username: "host"},
		"quay.io/team":                    {Username: "team"},
		"https://registry.example/v2/":    {Username: "v2"},
		"https://index.docker.io/v1/":     {Username: "hub"},
		"*.dkr.ecr.*.amazonaws.com":       {Username: "AWS"},
		"http://plain.example:5000/a/b/c": {Username: "deep"},
	})
	for image, want := range map[string]string{
		"quay.io/team/app":    "team",
		"quay.io/other/app":   "host",
		"registry.example/x":  "v2",
		"docker.io/library/a": "hub",
		"nginx":               "hub",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app": "AWS",
		"plain.example:5000/a/b/c/d":                       "deep",
		"plain.example:5000/a/b":                           "",
		"ghcr.io/x":                                        "",
	} {
		c, ok := k.lookup(image)
		if ok != (want != "") || c.Username != want {
			t.Errorf("lookup(%q) = %q, %v; want %q", image, c.Username, ok, want)
		}
	}
}
