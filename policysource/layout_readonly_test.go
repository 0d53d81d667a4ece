package policysource

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// While a path source is served for a refresh, anything on the node's
// network namespace (any local uid, any hostNetwork pod) reaches the
// loopback registry: it serves reads only, so nothing can push blobs into
// the daemon's memory, or delete the policy manifest so the refresh counts
// as "not reached".
func TestLayoutRegistryRefusesWrites(t *testing.T) {
	img, _, err := Build([]byte("serial = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refName: "policy"})); err != nil {
		t.Fatal(err)
	}
	ref, stop, err := ServeLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	host := strings.SplitN(ref, "/", 2)[0]
	junk, _ := random.Image(4<<20, 1)
	other, _ := name.NewTag(host+"/anything:else", name.Insecure)
	if err := remote.Write(other, junk); err == nil {
		t.Errorf("an unauthenticated client pushed a 4 MiB image into the daemon's loopback registry at %s", host)
	}
	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/policy/manifests/"+d.DigestStr(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE of the policy manifest: %s", resp.Status)
	}
	if _, err := remote.Get(d); err != nil {
		t.Errorf("the policy is not served after the refused writes: %v", err)
	}
}
