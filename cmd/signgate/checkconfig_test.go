package main

import (
	"strings"
	"testing"
)

// check-config's errors say where a mistake is and what was meant.
func TestCheckConfigNamesTheMistake(t *testing.T) {
	for name, c := range map[string]struct {
		body string
		want []string
		not  []string
	}{
		"unknown key in a policy": {
			body: allowAll + "\n[[policy]]\nname = \"typo\"\nscopes = [\"example.org/*\"]\nmode = \"allow\"\nnamespace = [\"x\"]\n",
			want: []string{`policy[1] "typo".namespace`, `did you mean "namespaces"?`},
		},
		"unknown daemon key": {
			body: "[daemon]\nnri_sokcet = \"x\"\n" + allowAll[len("\n[daemon]\n"):],
			want: []string{`daemon.nri_sokcet (did you mean "nri_socket"?)`},
		},
		"prove_interval too short": {
			body: "[daemon]\nprove_interval = \"5s\"\n" + allowAll[len("\n[daemon]\n"):],
			want: []string{`daemon.prove_interval = "5s": give a duration of at least 1m0s, or 0 for off`},
		},
		"bad glob once": {
			body: "[[policy]]\nname = \"bad\"\nscopes = [\"example.com/[x]\"]\nmode = \"allow\"\n",
			want: []string{`policy[0] "bad".scopes: scope "example.com/[x]"`},
			not:  []string{"scopes is required"},
		},
		"scope with a tag": {
			body: "[[policy]]\nname = \"platform\"\nscopes = [\"registry.example.com/platform:v1\"]\nmode = \"allow\"\n",
			want: []string{`policy[0] "platform".scopes: scope "registry.example.com/platform:v1" names a tag`, `write "registry.example.com/platform"`},
		},
		"scope with a digest": {
			body: "[[policy]]\nname = \"platform\"\nscopes = [\"registry.example.com:5000/platform@sha256:abcd\"]\nmode = \"allow\"\n",
			want: []string{`names a tag or digest`, `write "registry.example.com:5000/platform"`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := signgate(t, nil, "check-config", "--config", writeConfig(t, c.body))
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("error does not say %q:\n%s", w, r.stderr)
				}
			}
			for _, w := range c.not {
				if strings.Contains(r.stderr, w) {
					t.Errorf("error says %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// A port is not a tag; the summary numbers policies as errors do.
func TestCheckConfigSummaryNumbersPoliciesAsErrorsDo(t *testing.T) {
	cfg := writeConfig(t, allowAll+"\n[[policy]]\nname = \"local\"\nscopes = [\"localhost:5000/app\"]\nmode = \"allow\"\n")
	r := signgate(t, nil, "check-config", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{"policy[0] all ", "policy[1] local "} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("summary does not say %q:\n%s", w, r.stdout)
		}
	}
}
