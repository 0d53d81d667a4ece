package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"

	"github.com/signgate/signgate/localapi"
)

// psLists says whether `signgate ps` lists container id. A start signgate
// refused is listed as running (CRI-O runs it all the same); containerd's
// task list leaves it out where the refusal was honoured.
func (e *env) psLists(id string) bool {
	e.t.Helper()
	out, _ := exec.Command(filepath.Join(e.Bin, "signgate"), "ps", "--socket", e.APISocket(), "--output", "json").Output()
	var r localapi.RunningResponse
	if err := json.Unmarshal(out, &r); err != nil {
		e.t.Fatalf("signgate ps --output json: %v\n%s", err, out)
	}
	for _, c := range r.Containers {
		if c.ID == id {
			return true
		}
	}
	return false
}
