package kms

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRefusesSchemesNotCompiledIn(t *testing.T) {
	// Nothing is registered in this package's test binary: every scheme,
	// including the ones sigstore would hand to a plugin program, is refused.
	for _, uri := range []string{"awskms:///alias/x", "sigstore-kms-evil://key", "pkcs11:token=x", "alias/x"} {
		_, err := Parse(uri, "")
		if err == nil {
			t.Fatalf("%s accepted", uri)
		}
		if strings.Contains(uri, "://") && !strings.Contains(err.Error(), "never runs external KMS plugins") {
			t.Fatalf("%s: %v", uri, err)
		}
	}
}

func TestCurrent(t *testing.T) {
	t0 := time.Now()
	old := Version{ID: "1", State: Enabled, Created: t0}
	newer := Version{ID: "2", State: Enabled, Created: t0.Add(time.Hour)}
	if v, ok := Current([]Version{old, newer}); !ok || v.ID != "2" {
		t.Fatalf("none marked: %+v %v", v, ok)
	}
	marked := old
	marked.Current = true
	if v, ok := Current([]Version{marked, newer}); !ok || v.ID != "1" {
		t.Fatalf("marked: %+v %v", v, ok)
	}
	// A marked current version that is disabled is not replaced by an older one.
	off := Version{ID: "2", State: Disabled, Current: true, Created: t0.Add(time.Hour)}
	if v, ok := Current([]Version{old, off}); ok {
		t.Fatalf("disabled current: %+v", v)
	}
}

func TestHelpers(t *testing.T) {
	vs := MarkMissing([]Version{{ID: "1", State: Enabled}}, []string{"1", "7"})
	if len(vs) != 2 || vs[1].ID != "7" || vs[1].State != Deleted {
		t.Fatalf("MarkMissing: %+v", vs)
	}
	for _, c := range []struct{ inRef, pin, want, err string }{
		{"", "", "", ""},
		{"3", "", "3", ""},
		{"", "3", "3", ""},
		{"3", "3", "3", ""},
		{"3", "4", "", "pins version 3 and version says 4"},
		{"", "0", "", "positive integers"},
		{"", "latest", "", "positive integers"},
	} {
		got, err := NumberedPin("Test KMS", c.inRef, c.pin)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NumberedPin(%q, %q) = %q, %v", c.inRef, c.pin, got, err)
		}
	}
}

type versionsFunc func() ([]Version, error)

func (f versionsFunc) Versions(context.Context, Ref, []string) ([]Version, error) { return f() }

func TestLazyRetriesAFailedBuild(t *testing.T) {
	builds := 0
	f := Factory{New: func(context.Context, Settings) (Provider, error) {
		builds++
		if builds == 1 {
			return nil, errors.New("no credentials")
		}
		return versionsFunc(func() ([]Version, error) { return []Version{{ID: "1"}}, nil }), nil
	}}
	p := Lazy("testkms", f, Settings{})
	if _, err := p.Versions(context.Background(), Ref{}, nil); err == nil || !strings.Contains(err.Error(), "testkms provider: no credentials") {
		t.Fatalf("first call: %v", err)
	}
	for range 2 {
		if vs, err := p.Versions(context.Background(), Ref{}, nil); err != nil || len(vs) != 1 {
			t.Fatalf("after the retry: %v %v", vs, err)
		}
	}
	if builds != 2 {
		t.Fatalf("built %d times, want 2", builds)
	}
}
