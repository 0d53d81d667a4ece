package registry_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/signgate/signgate/registry"
)

// The errors a verification reports lose the query and userinfo of the
// URLs net/http and oras quote: a redirect's query can be a presigned
// S3/CDN signature, and the error reaches the CRI denial message. The
// wrapping fmt.Errorf copied their text, so the text is what is mended;
// errors.As still finds what it wraps (the 403 is named).
func TestExplainedErrorsQuoteNoQuery(t *testing.T) {
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := url.Parse("https://user:pw@cdn.example/blob?X-Amz-Signature=s3cr3t#frag")
	oras := &errcode.ErrorResponse{Method: http.MethodGet, URL: signed, StatusCode: http.StatusForbidden}
	hop := &url.Error{Op: "Get", URL: signed.String(), Err: errors.New("connection reset")}
	repo, _ := name.NewRepository("registry.example/app")
	got := c.Explain(repo, fmt.Errorf("reading: %w", errors.Join(oras, hop))).Error()
	for _, secret := range []string{"s3cr3t", "X-Amz", "user", "frag"} {
		if strings.Contains(got, secret) {
			t.Errorf("the error quotes %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "https://cdn.example/blob") || signed.RawQuery == "" {
		t.Errorf("the error lost the URL, or the request's URL was changed: %s", got)
	}
}
