package keysync_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
)

// scripted is a provider that answers what the test last set.
type scripted struct {
	mu  sync.Mutex
	vs  []kms.Version
	err error
}

func (p *scripted) set(vs []kms.Version, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vs, p.err = vs, err
}

func (p *scripted) Versions(context.Context, kms.Ref, []string) ([]kms.Version, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.vs, p.err
}

// A KMS that cannot be reached leaves the key as it was; a KMS that answers
// has its answer applied, even when a version in it cannot be taken: the
// disabled version goes, the unusable one is not trusted, and the sync is
// no error (it did learn the key's state) but names the version.
func TestAnsweredSyncAppliesWhileUnreachableKeepsPrevious(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kms.Parse("hashivault://release", "")
	if err != nil {
		t.Fatal(err)
	}
	// Version 2's key is on a curve signgate does not verify with.
	odd, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &scripted{}
	clk := &clock{t: time.Now()}
	s, err := keysync.New([]keysync.Spec{{Name: "release", Ref: ref}}, map[string]kms.Provider{"hashivault": p},
		keysync.Options{StateDir: t.TempDir(), Now: clk.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p.set([]kms.Version{{ID: "1", State: kms.Enabled, Current: true, Public: &k.PublicKey}}, nil)
	if _, err := s.Sync(context.Background()); err != nil || versions(s) != "release@1" {
		t.Fatalf("first sync: %v, trusted %q", err, versions(s))
	}

	clk.Add(time.Minute)
	p.set(nil, errors.New("connection refused"))
	if _, err := s.Sync(context.Background()); err == nil || versions(s) != "release@1" {
		t.Fatalf("unreachable: %v, trusted %q", err, versions(s))
	}

	clk.Add(time.Minute)
	p.set([]kms.Version{
		{ID: "1", State: kms.Disabled},
		{ID: "2", State: kms.Enabled, Current: true, Public: &odd.PublicKey},
	}, nil)
	changes, err := s.Sync(context.Background())
	if err != nil || versions(s) != "" {
		t.Fatalf("answered: %v, trusted %q", err, versions(s))
	}
	var kinds []string
	for _, c := range changes {
		kinds = append(kinds, string(c.Kind)+" "+c.Version)
	}
	if strings.Join(kinds, ",") != "unusable 2,revoked 1" {
		t.Fatalf("changes %+v", changes)
	}
	st := s.Statuses()[0]
	if st.LastError != "" || !st.LastSync.Equal(clk.Now()) || len(st.Unusable) != 1 || st.Unusable[0].Version != "2" || !strings.Contains(st.Unusable[0].Reason, "curve") {
		t.Fatalf("status %+v", st)
	}
}
