package nri

import (
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// A CRI-O that closes the connection after a Configure that asked for the
// validator (before Synchronize) is asked without it next time, until it
// comes back as another version; one that synchronized is not, and
// containerd never is.
func TestValidatorFallbackOnlyForCRIORefusals(t *testing.T) {
	all, _ := eventsFor("", "cri-o", "1.34.0")
	validator := api.MustParseEventMask("ValidateContainerAdjustment")
	if all&validator == 0 {
		t.Fatal("an unknown CRI-O NRI version is not asked for the validator")
	}
	var f validatorFallback
	if ev, v := f.events(discard, "cri-o", "1.34.0", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped before any refusal")
	}
	f.started() // synchronized: the subscription was accepted
	f.closedBeforeStart()
	if ev, v := f.events(discard, "cri-o", "1.34.0", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped after a connection that was accepted closed")
	}
	f.closedBeforeStart() // closed before Synchronize: refused
	if ev, v := f.events(discard, "cri-o", "1.34.0", all, true); v || ev&validator != 0 {
		t.Fatal("still asked for the validator after CRI-O refused it")
	}
	// CRI-O upgraded (restarted as another version): asked again.
	if ev, v := f.events(discard, "cri-o", "1.34.4", all, true); !v || ev&validator == 0 {
		t.Fatal("a CRI-O of another version was not asked for the validator")
	}
	// A CRI-O that says no version is not taken as refused before it refused.
	var blank validatorFallback
	if ev, v := blank.events(discard, "cri-o", "", all, true); !v || ev&validator == 0 {
		t.Fatal("a CRI-O with no version lost the validator before refusing it")
	}
	var c validatorFallback
	c.events(discard, "containerd", "2.2.0", all, true)
	c.closedBeforeStart()
	if ev, v := c.events(discard, "containerd", "2.2.0", all, true); !v || ev&validator == 0 {
		t.Fatal("containerd downgraded after a dropped connection")
	}
}
