package verify_test

import (
	"testing"

	"github.com/signgate/signgate/verify"
)

func TestDenyIsADenial(t *testing.T) {
	v := verify.Deny("registry.example.com/app", "sha256:abc", verify.CauseImageUnknown, "cannot resolve")
	if v.Allowed || v.Verified || v.Image != "registry.example.com/app" || v.Digest != "sha256:abc" ||
		v.Cause != verify.CauseImageUnknown || v.Reason != "cannot resolve" || v.Decision() != "deny" {
		t.Fatalf("Deny made %+v", v)
	}
}
