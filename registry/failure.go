package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// AuthError is a registry refusing signgate's credentials (or their
// absence): it names the registry, the credential source tried and the
// HTTP status, never the credential.
type AuthError struct {
	Registry string
	Source   string // e.g. `kubelet credential provider "ecr-credential-provider"`
	Status   int
	Err      error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("registry %s answered %d %s; credentials from %s: %v", e.Registry, e.Status, http.StatusText(e.Status), e.Source, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// Explain says more of err, which reading repo gave: for a 401 or 403,
// the credential source tried. URLs in it lose their query and userinfo
// (a presigned redirect's signature); other errors are returned as they
// are.
func (c *Client) Explain(repo name.Repository, err error) error {
	return c.ExplainContext(context.Background(), repo, err)
}

// ExplainContext is Explain for a read made under ctx: the source named is
// the one of the credentials ctx brought (a pod's pull secrets), never
// another verification's of the same repository.
func (c *Client) ExplainContext(ctx context.Context, repo name.Repository, err error) error {
	err = scrubURLs(err)
	status := statusOf(err)
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return err
	}
	source := c.creds.source(sourceKey(ctx, repo))
	if source == "" {
		source = "unknown"
	}
	return &AuthError{Registry: repo.RegistryStr(), Source: source, Status: status, Err: err}
}

// statusOf is the HTTP status of a registry's error answer, from either
// client signgate reads through; 0 for other errors.
func statusOf(err error) int {
	var ge *transport.Error
	if errors.As(err, &ge) {
		return ge.StatusCode
	}
	var oe *errcode.ErrorResponse
	if errors.As(err, &oe) {
		return oe.StatusCode
	}
	return 0
}
