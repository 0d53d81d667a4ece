package kmstest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/signgate/signgate/keystore/kms"
)

// Down is a KMS provider that cannot be reached. It notes how long each
// caller was prepared to wait for it, so a test can tell which timeout
// bounds a sync without waiting for one to pass.
type Down struct {
	mu    sync.Mutex
	waits []time.Duration
}

// Versions notes the caller's deadline and fails.
func (d *Down) Versions(ctx context.Context, _ kms.Ref, _ []string) ([]kms.Version, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := time.Duration(-1) // no deadline
	if dl, ok := ctx.Deadline(); ok {
		w = time.Until(dl)
	}
	d.waits = append(d.waits, w)
	return nil, errors.New("the KMS is down")
}

// Waits are how long each call was prepared to wait, -1 for no deadline.
func (d *Down) Waits() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.waits...)
}
