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
	if c, err := Accept(nil, "sha256:one", 1); err != nil || c != Newer {
		t.Errorf("first policy: %v %v", c, err)
	}
	if c, err := Accept(kept, "sha256:five", 5); err != nil || c != Same {
		t.Errorf("the one in force: %v %v", c, err)
	}
	if c, err := Accept(kept, "sha256:six", 6); err != nil || c != Newer {
		t.Errorf("a newer one: %v %v", c, err)
	}
	for _, s := range []int64{1, 5} {
		_, err := Accept(kept, "sha256:old", s)
		var rb *RollbackError
		if !errors.As(err, &rb) || Reason(err) != "rollback" || rb.InForce != 5 {
			t.Errorf("serial %d under 5: %v", s, err)
		}
	}
}
