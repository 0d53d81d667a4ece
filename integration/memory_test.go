package integration

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/integration/harness"
)

// decisionLine is the log line of the last decision on image ref made
// after mark.
func decisionLine(e *env, mark int, ref string) string {
	re := regexp.MustCompile(`msg="signgate (?:allow|deny|audit) ` + regexp.QuoteMeta(ref) + `"[^\n]*`)
	var all []string
	_ = harness.WaitFor(5*time.Second, func() error {
		if all = re.FindAllString(e.logSince(mark), -1); len(all) == 0 {
			return fmt.Errorf("no decision on %s yet", ref)
		}
		return nil
	})
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// Creations are decided from what containerd's events told signgate (the
// container's snapshot, the digest its name points to), without asking
// containerd; and a tag re-pulled onto other content just before a
// creation is judged as containerd's store would judge it, never by what
// was remembered before the pull.
func TestCreationsDecidedFromMemory(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	ref := e.Registry + "/memory/app:v1"
	signed := e.image("memory/app", "k1")
	unsigned, err := harness.PushBusybox(e.Registry+"/memory/app:unsigned", "sleep", "3600")
	if err != nil {
		t.Fatal(err)
	}
	// The first creation asks containerd (and remembers its answer); the
	// next ones need not, once the container's snapshot event has arrived
	// before its creation is decided (on a loaded machine it can lag, and
	// containerd is asked instead): one of eight must come from memory.
	fromMemory := false
	var line string
	for i := 0; i < 8 && !fromMemory; i++ {
		mark := e.logMark()
		id, err := e.Create(podID, podCfg, ref)
		mustAllow(t, id, err)
		line = decisionLine(e, mark, ref)
		fromMemory = i > 0 && strings.Contains(line, "from_memory=true")
	}
	if !fromMemory {
		t.Fatalf("no repeated creation was decided from memory; the last: %q", line)
	}

	// Re-point the tag at the registry and pull it through CRI, then create
	// at once: the pull's event is ordered before the creation's snapshot.
	point := func(to name.Digest) {
		t.Helper()
		desc, err := remote.Get(to)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(ref)
		if err := remote.Put(tag, desc); err != nil {
			t.Fatal(err)
		}
		if err := e.Pull(ref); err != nil {
			t.Fatal(err)
		}
	}
	// After each pull, creations until one is decided from memory (at
	// most 4): each must be for the digest pulled, and one must be from
	// memory, or the flips would not exercise memory at all. The pull's
	// image event drops every remembered name; the next answer containerd
	// gives (to a creation, or to pre-verification) is remembered, unless
	// another event overtakes it.
	creations := func(flip int, d name.Digest, allowed bool) {
		t.Helper()
		for try := 0; try < 4; try++ {
			mark := e.logMark()
			id, err := e.Create(podID, podCfg, ref)
			if allowed {
				if err != nil {
					t.Fatalf("flip %d: the signed image, pulled back, was refused: %v", flip, err)
				}
				mustAllow(t, id, err)
			} else {
				mustDeny(t, err, d.DigestStr(), "no cosign signatures found")
			}
			line := decisionLine(e, mark, ref)
			if !strings.Contains(line, "digest="+d.DigestStr()) {
				t.Fatalf("flip %d: decided another digest than the one pulled (%s): %q", flip, d.DigestStr(), line)
			}
			if strings.Contains(line, "from_memory=true") {
				return
			}
		}
		t.Fatalf("flip %d: 4 creations after pulling %s, none decided from memory", flip, d.DigestStr())
	}
	for i := 0; i < 8; i++ {
		point(unsigned)
		creations(i, unsigned, false)
		point(signed)
		creations(i, signed, true)
	}
}
