package integration

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/integration/harness"
)

// decisionLine is the log line of the last decision on image ref.
func decisionLine(e *env, ref string) string {
	re := regexp.MustCompile(`msg="signgate (?:allow|deny|audit) ` + regexp.QuoteMeta(ref) + `"[^\n]*`)
	all := re.FindAllString(e.SigngateLog.String(), -1)
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
	// next ones need not.
	for i := 0; i < 3; i++ {
		id, err := e.Create(podID, podCfg, ref)
		mustAllow(t, id, err)
	}
	if line := decisionLine(e, ref); !strings.Contains(line, "from_memory=true") {
		t.Fatalf("a repeated creation asked containerd again: %q", line)
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
	for i := 0; i < 8; i++ {
		point(unsigned)
		_, err := e.Create(podID, podCfg, ref)
		mustDeny(t, err, unsigned.DigestStr(), "no cosign signatures found")
		point(signed)
		id, err := e.Create(podID, podCfg, ref)
		if err != nil {
			t.Fatalf("flip %d: the signed image, pulled back, was refused: %v", i, err)
		}
		mustAllow(t, id, err)
		line := decisionLine(e, ref)
		if !strings.Contains(line, signed.DigestStr()) {
			t.Fatalf("flip %d: decided another digest than the one pulled: %q", i, line)
		}
	}
	fmt.Println(decisionLine(e, ref))
}
