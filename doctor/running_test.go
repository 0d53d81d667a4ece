package doctor

import (
	"strings"
	"testing"
)

func TestRunningFinding(t *testing.T) {
	for _, r := range []Running{
		{Detail: "daemon.api_socket = \"/x.sock\": connect: no such file"},
		{Where: "api socket /x.sock", Answered: true, Detail: "not connected to NRI"},
		{Where: "api socket /x.sock", Answered: true, Ready: true, Detail: "ok"},
	} {
		f := Check(Node{Version: "2.2.0", Running: &r})[0]
		if f.Guarantee != "signgate is running and connected to NRI" || f.Holds != r.Ready || f.Optional || !strings.Contains(f.Detail, r.Detail) {
			t.Errorf("%+v: %+v", r, f)
		}
	}
}
