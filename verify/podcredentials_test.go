package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// podSecret is one pod's credential for one registry host.
type podSecret struct{ host, user, pass, scope string }

func (p podSecret) Credential(repo name.Repository) (authn.Authenticator, string, bool) {
	if repo.RegistryStr() != p.host {
		return nil, "", false
	}
	return &authn.Basic{Username: p.user, Password: p.pass}, "pull secret " + p.scope, true
}

func (p podSecret) Scope(repo name.Repository) string {
	if repo.RegistryStr() != p.host {
		return ""
	}
	return p.scope
}

func (p podSecret) None(repo name.Repository) string {
	return "no pod pull secret for " + repo.RegistryStr()
}

// A verdict made with a pod's pull secret is kept apart from the node's
// and other secrets': the node's 401 denial does not refuse the pod that
// has the credential, the pod's allow is not another's, and it is not
// written to the state directory (Kept).
func TestVerdictsAreKeptApartByPodCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("app")
	if err := e.signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	host := basicAuthFront(t, e.srv.URL, nil)
	private, err := name.NewDigest(host + "/app@" + img.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	ask := func(pc registry.PodCredentials) *verify.Verdict {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return eng.Decide(ctx, verify.Request{Image: private, Credentials: pc})
	}
	mine := podSecret{host: host, user: "robot", pass: "pw", scope: "secret:team/regcred@1"}

	if v := ask(nil); v.Allowed || v.Cause != verify.CauseRegistryError || !strings.Contains(v.Reason, "answered 401 Unauthorized") {
		t.Fatalf("the node's credentials: %s: %s", v.Cause, v.Reason)
	}
	if v := ask(mine); !v.Allowed || v.Cached {
		t.Fatalf("the pod's secret, after the node's denial: allowed=%v cached=%v %s", v.Allowed, v.Cached, v.Reason)
	}
	if v := ask(mine); !v.Allowed || !v.Cached {
		t.Errorf("the same secret again is not answered from the cache: %+v", v)
	}
	if v := ask(podSecret{host: "other.example", scope: "secret:team/other@1"}); v.Allowed {
		t.Errorf("a pod with no secret for the registry was allowed on another pod's verdict")
	}
	if v := ask(podSecret{host: host, user: "robot", pass: "wrong", scope: "secret:team2/regcred@4"}); v.Allowed || !strings.Contains(v.Reason, "credentials from pull secret secret:team2/regcred@4") {
		t.Errorf("another secret: allowed=%v %s", v.Allowed, v.Reason)
	}
	kept, _ := eng.Kept()
	for _, k := range kept {
		if strings.Contains(k.Platform, "secret:") || strings.Contains(k.Image, "secret:") {
			t.Errorf("a pod's verdict is kept for the state directory: %+v", k)
		}
	}
}
