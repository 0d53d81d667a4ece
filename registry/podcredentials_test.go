package registry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/registry"
)

// podCreds is one pod's credential for one registry host.
type podCreds struct{ host, user, pass, scope string }

func (p podCreds) Credential(repo name.Repository) (authn.Authenticator, string, bool) {
	if repo.RegistryStr() != p.host {
		return nil, "", false
	}
	return &authn.Basic{Username: p.user, Password: p.pass}, "pull secret " + p.scope, true
}

func (p podCreds) Scope(repo name.Repository) string {
	if repo.RegistryStr() != p.host {
		return ""
	}
	return p.scope
}

func (p podCreds) None(repo name.Repository) string {
	return "no pod pull secret for " + repo.RegistryStr()
}

func headAs(t *testing.T, c *registry.Client, ref string, pc registry.PodCredentials) error {
	t.Helper()
	r, _ := name.ParseReference(ref)
	ctx := registry.WithPodCredentials(context.Background(), pc)
	opts, err := c.Options(ctx, r.Context())
	if err != nil {
		return err
	}
	_, err = remote.Head(r, opts...)
	return c.ExplainContext(ctx, r.Context(), err)
}

// A pod's credential opens the registry for that pod's reads only: the
// handshake it made (holding its token) is not reused for a read without
// it, nor for another pod's, which is refused naming its own source.
func TestPodCredentialsAreThePodsOnly(t *testing.T) {
	t.Parallel()
	host := authRegistry(t, "robot", "p0d-secret", "app/x:v1")
	cl, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mine := podCreds{host: host, user: "robot", pass: "p0d-secret", scope: "secret:ns/regcred@1"}
	if err := headAs(t, cl, host+"/app/x:v1", mine); err != nil {
		t.Fatalf("with the pod's secret: %v", err)
	}
	for _, c := range []struct {
		name   string
		pc     registry.PodCredentials
		source string
	}{
		{"no pod credentials", nil, "credentials from none (anonymous: no credential source is configured)"},
		{"another pod's, without one for the host", podCreds{host: "other.example", scope: "secret:ns/x@1"}, "credentials from none (anonymous: no pod pull secret for " + host + ")"},
		{"another pod's, a wrong one", podCreds{host: host, user: "robot", pass: "wr0ng", scope: "secret:ns/other@1"}, "credentials from pull secret secret:ns/other@1"},
	} {
		err := headAs(t, cl, host+"/app/x:v1", c.pc)
		msg := fmt.Sprint(err)
		if want := "registry " + host + " answered 401 Unauthorized; " + c.source; !strings.Contains(msg, want) {
			t.Errorf("%s: %s\nwant %q", c.name, msg, want)
		}
		if strings.Contains(msg, "p0d-secret") || strings.Contains(msg, "wr0ng") {
			t.Errorf("%s: the error quotes a password: %s", c.name, msg)
		}
	}
	// And the pod's own reads still go through.
	if err := headAs(t, cl, host+"/app/x:v1", mine); err != nil {
		t.Fatalf("with the pod's secret, again: %v", err)
	}
	// With the feature on, a read for no pod (the pull-time
	// pre-verification) says what pods without a secret share.
	on, _ := registry.New(registry.Config{PodPullSecrets: true})
	if err := headAs(t, on, host+"/app/x:v1", nil); !strings.Contains(fmt.Sprint(err), "credentials from none (anonymous: no pod pull secret for "+host+")") {
		t.Errorf("no pod: %v", err)
	}
}
