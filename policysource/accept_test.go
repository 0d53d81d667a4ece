package policysource

import (
	"errors"
	"testing"
)

// The serial must go forward: the one in force is confirmed, a higher one
// taken, and a lower or equal one under another digest refused as a
// rollback naming both serials.
func TestSerialMustGoForward(t *testing.T) {
	kept := &Kept{Digest: "sha256:five", Serial: 5}
	if c, err := Accept(nil, "sha256:one", 1, 0); err != nil || c != Newer {
		t.Errorf("first policy: %v %v", c, err)
	}
	if c, err := Accept(kept, "sha256:five", 5, 0); err != nil || c != Same {
		t.Errorf("the one in force: %v %v", c, err)
	}
	if c, err := Accept(kept, "sha256:six", 6, 0); err != nil || c != Newer {
		t.Errorf("a newer one: %v %v", c, err)
	}
	for _, s := range []int64{1, 5} {
		_, err := Accept(kept, "sha256:old", s, 0)
		var rb *RollbackError
		if !errors.As(err, &rb) || Reason(err) != "rollback" || rb.InForce != 5 {
			t.Errorf("serial %d under 5: %v", s, err)
		}
	}
}

// With no policy kept (a lost or set-aside state file), a serial below
// policy_source.min_serial is still refused as a rollback: otherwise any
// policy ever signed would be taken.
func TestMinSerialBoundsAFreshNode(t *testing.T) {
	_, err := Accept(nil, "sha256:old", 3, 10)
	var rb *RollbackError
	if !errors.As(err, &rb) || Reason(err) != "rollback" {
		t.Fatalf("serial 3 under min_serial 10 with none kept: %v", err)
	}
	if c, err := Accept(nil, "sha256:ten", 10, 10); err != nil || c != Newer {
		t.Errorf("serial 10 at min_serial 10: %v %v", c, err)
	}
	if _, err := Accept(&Kept{Digest: "sha256:two", Serial: 2}, "sha256:five", 5, 10); err == nil {
		t.Error("serial 5 under min_serial 10 above the kept one was taken")
	}
}
