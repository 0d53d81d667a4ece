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
	if ev, v := f.events(discard, "cri-o", "1.34.0", "", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped before any refusal")
	}
	f.started() // synchronized: the subscription was accepted
	f.closedBeforeStart()
	if ev, v := f.events(discard, "cri-o", "1.34.0", "", all, true); !v || ev&validator == 0 {
		t.Fatal("dropped after a connection that was accepted closed")
	}
	refuse(&f, "1.34.0", all) // closed before Synchronize, again and again: refused
	if ev, v := f.events(discard, "cri-o", "1.34.0", "", all, true); v || ev&validator != 0 {
		t.Fatal("still asked for the validator after CRI-O refused it")
	}
	// CRI-O upgraded (restarted as another version): asked again.
	if ev, v := f.events(discard, "cri-o", "1.34.4", "", all, true); !v || ev&validator == 0 {
		t.Fatal("a CRI-O of another version was not asked for the validator")
	}
	// A CRI-O that says no version is not taken as refused before it refused.
	var blank validatorFallback
	if ev, v := blank.events(discard, "cri-o", "", "", all, true); !v || ev&validator == 0 {
		t.Fatal("a CRI-O with no version lost the validator before refusing it")
	}
	var c validatorFallback
	c.events(discard, "containerd", "2.2.0", "", all, true)
	c.closedBeforeStart()
	if ev, v := c.events(discard, "containerd", "2.2.0", "", all, true); !v || ev&validator == 0 {
		t.Fatal("containerd downgraded after a dropped connection")
	}
}

// refuse has CRI-O close refusedAfter connections in a row before
// registering them, as one without the validator does.
func refuse(f *validatorFallback, version string, all api.EventMask) {
	for range refusedAfter {
		f.events(discard, "cri-o", version, "", all, true)
		f.closedBeforeStart()
	}
}

// TestOneDroppedConnectionKeepsTheValidator: a CRI-O connection closed
// once before registering (CRI-O restarting, a registration timeout on a
// loaded node) switched the validator off for good, so every later
// creation during a wedge or a kill of signgate was let through (fails
// open). Now one close, or closes from a CRI-O that reports an NRI with
// the validator, keep it; only a CRI-O that refuses again and again loses it.
func TestOneDroppedConnectionKeepsTheValidator(t *testing.T) {
	all, _ := eventsFor("", "cri-o", "1.34.0")
	validator := api.MustParseEventMask("ValidateContainerAdjustment")
	var f validatorFallback
	f.events(discard, "cri-o", "1.34.0", "", all, true)
	f.closedBeforeStart()
	if ev, v := f.events(discard, "cri-o", "1.34.0", "", all, true); !v || ev&validator == 0 {
		t.Fatal("one connection closed before registering switched the validator off")
	}
	f.started() // registered: the count starts again
	for range refusedAfter - 1 {
		f.closedBeforeStart()
		f.events(discard, "cri-o", "1.34.0", "", all, true)
	}
	if f.refused != nil {
		t.Fatal("closes counted across a registered connection")
	}
	var r validatorFallback
	for range refusedAfter + 1 {
		if ev, v := r.events(discard, "cri-o", "1.35.2", "v0.11.0", all, true); !v || ev&validator == 0 {
			t.Fatal("a CRI-O reporting NRI v0.11 lost the validator")
		}
		r.closedBeforeStart()
	}
	if r.refused != nil {
		t.Fatal("a CRI-O reporting an NRI with the validator was taken to refuse it")
	}
}
