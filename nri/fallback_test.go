package nri

import (
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// A CRI-O that closes the connection after a Configure that asked for the
// validator (before Synchronize) is asked without it next time; one that
// synchronized is not, and containerd never is.
func TestValidatorFallbackOnlyForCRIORefusals(t *testing.T) {
	all, _ := Events("", "cri-o", "1.34.0")
	validator := api.MustParseEventMask("ValidateContainerAdjustment")
	if all&validator == 0 {
		t.Fatal("an unknown CRI-O NRI version is not asked for the validator")
	}
	var f validatorFallback
	if ev, v := f.events("cri-o", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped before any refusal")
	}
	f.started() // synchronized: the subscription was accepted
	f.closedBeforeStart()
	if ev, v := f.events("cri-o", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped after a connection that was accepted closed")
	}
	f.closedBeforeStart() // closed before Synchronize: refused
	if ev, v := f.events("cri-o", all, true); v || ev&validator != 0 {
		t.Fatal("still asked for the validator after CRI-O refused it")
	}
	var c validatorFallback
	c.events("containerd", all, true)
	c.closedBeforeStart()
	if ev, v := c.events("containerd", all, true); !v || ev&validator == 0 {
		t.Fatal("containerd downgraded after a dropped connection")
	}
}
