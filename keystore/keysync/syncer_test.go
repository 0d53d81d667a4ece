package keysync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
)

// clock is a settable time for staleness and grace periods.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	vault *kmstest.Vault
	dir   string
	clock *clock
	prov  kms.Provider
	specs []keysync.Spec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v := kmstest.NewVault(t)
	p := v.Provider(t)
	v.CreateKey(t, "release")
	ref := kmstest.Ref(t, "hashivault://release")
	return &fixture{vault: v, dir: t.TempDir(), clock: &clock{t: time.Now()}, prov: p,
		specs: []keysync.Spec{{Name: "release", Ref: ref, Grace: time.Hour}}}
}

func (f *fixture) syncer(t *testing.T, staleness time.Duration) *keysync.Syncer {
	t.Helper()
	s, err := keysync.New(f.specs, map[string]kms.Provider{"hashivault": f.prov},
		keysync.Options{StateDir: f.dir, MaxStaleness: staleness, Now: f.clock.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func versions(s *keysync.Syncer) string {
	var out []string
	for _, k := range s.Keys() {
		out = append(out, k.Name+"@"+k.Version)
	}
	return strings.Join(out, ",")
}

func TestKMSDownAtStartUsesLastKnownGood(t *testing.T) {
	f := newFixture(t)
	first := f.syncer(t, 0)
	if _, err := first.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.vault.Rotate(t, "release")
	if _, err := first.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := versions(first); got != "release@2,release@1" {
		t.Fatalf("before restart: %s", got)
	}
	fi, err := os.Stat(filepath.Join(f.dir, keysync.StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	// Restart while Vault is down.
	f.vault.SetDown(true)
	second := f.syncer(t, 0)
	n, _, err := second.LoadState()
	if err != nil || n != 1 {
		t.Fatalf("LoadState: %d, %v", n, err)
	}
	if _, err := second.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), `key "release"`) {
		t.Fatalf("sync against a sealed Vault: %v", err)
	}
	if got := versions(second); got != "release@2,release@1" {
		t.Fatalf("last-known-good: %s", got)
	}
	st := second.Statuses()[0]
	if !st.FromState || st.LastError == "" || st.Versions[1].GraceUntil.IsZero() {
		t.Fatalf("status: %+v", st)
	}
	// The failed sync did not overwrite the state with nothing.
	third := f.syncer(t, 0)
	if n, _, err := third.LoadState(); err != nil || n != 1 || versions(third) != "release@2,release@1" {
		t.Fatalf("state after a failed sync: %d %v %s", n, err, versions(third))
	}
}

func TestCorruptOrTamperedStateIsIgnored(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, 0)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.dir, keysync.StateFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mutate func([]byte) []byte
		mode   os.FileMode
		want   string
	}{
		"truncated": {func(b []byte) []byte { return b[:len(b)/2] }, 0o600, "corrupt"},
		"bit flip": {func(b []byte) []byte {
			i := strings.Index(string(b), `"sha256:`) + len(`"sha256:`)
			c := append([]byte(nil), b...)
			c[i] ^= 1
			return c
		}, 0o600, "checksum does not match"},
		"fingerprint swapped, checksum fixed": {func(b []byte) []byte {
			return reseal(t, b, func(keys []map[string]any) {
				v := keys[0]["versions"].([]any)[0].(map[string]any)
				v["fingerprint"] = "sha256:" + strings.Repeat("0", 64)
			})
		}, 0o600, "does not match its fingerprint"},
		"world-writable": {func(b []byte) []byte { return b }, 0o666, "writable by others"},
		"not json":       {func([]byte) []byte { return []byte("\x00\x01garbage") }, 0o600, "corrupt"},
		"directory writable by others": {func(b []byte) []byte {
			if err := os.Chmod(f.dir, 0o777); err != nil {
				t.Fatal(err)
			}
			return b
		}, 0o600, "directory writable by others"},
	} {
		t.Run(name, func(t *testing.T) {
			defer os.Chmod(f.dir, 0o700)
			if err := os.WriteFile(path, c.mutate(good), c.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			f.vault.SetDown(true)
			defer f.vault.SetDown(false)
			s := f.syncer(t, 0)
			if _, _, err := s.LoadState(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadState: %v, want %q naming the file", err, c.want)
			}
			_, _ = s.Sync(context.Background())
			if got := versions(s); got != "" {
				t.Fatalf("keys from a bad state file: %s", got)
			}
		})
	}
}

// reseal edits the keys in a state file and recomputes its checksum, as an
// attacker who knows the format would.
func reseal(t *testing.T, b []byte, edit func([]map[string]any)) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	var keys []map[string]any
	if err := json.Unmarshal(env["keys"], &keys); err != nil {
		t.Fatal(err)
	}
	edit(keys)
	raw, _ := json.Marshal(keys)
	var statuses []keysync.Status
	if err := json.Unmarshal(raw, &statuses); err != nil {
		t.Fatal(err)
	}
	// WriteState computes the checksum of what it is given.
	dir := t.TempDir()
	if err := keysync.WriteState(dir, statuses, time.Now()); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, keysync.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStateForAnotherReferenceIsNotAdopted(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, 0)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The config now names a different Vault key under the same name.
	ref, _ := kms.Parse("hashivault://other", "")
	f.specs[0].Ref = ref
	f.vault.SetDown(true)
	s2 := f.syncer(t, 0)
	if n, _, err := s2.LoadState(); err != nil || n != 0 || versions(s2) != "" {
		t.Fatalf("adopted state of another reference: %d %v %s", n, err, versions(s2))
	}
}

func TestMaxStaleness(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, time.Hour)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.vault.SetDown(true)
	f.clock.Add(50 * time.Minute)
	if _, err := s.Sync(context.Background()); err == nil {
		t.Fatal("sync against a sealed Vault succeeded")
	}
	if versions(s) != "release@1" {
		t.Fatalf("within max_staleness: %q", versions(s))
	}
	f.clock.Add(11 * time.Minute)
	changes := s.CheckStaleness()
	if len(changes) != 1 || changes[0].Kind != keysync.Stale || !changes[0].Warning() || versions(s) != "" {
		t.Fatalf("past max_staleness: %+v, keys %q", changes, versions(s))
	}
	// A restart on a state file older than max_staleness does not trust it,
	// even before any sync.
	restarted := f.syncer(t, time.Hour)
	if n, _, err := restarted.LoadState(); err != nil || n != 1 || versions(restarted) != "" || !restarted.IsStale("release") {
		t.Fatalf("stale state at start: %d %v, keys %q", n, err, versions(restarted))
	}
	f.vault.SetDown(false)
	// Synced again, it says so: that change is what makes the daemon put
	// the key back into its keystore.
	if changes, err := restarted.Sync(context.Background()); err != nil || len(changes) != 1 || changes[0].Kind != keysync.Fresh || versions(restarted) != "release@1" {
		t.Fatalf("stale state synced again: %+v %v, keys %q", changes, err, versions(restarted))
	}
	changes, err := s.Sync(context.Background())
	if err != nil || len(changes) != 1 || changes[0].Kind != keysync.Fresh || versions(s) != "release@1" {
		t.Fatalf("synced again: %+v %v, keys %q", changes, err, versions(s))
	}
}

func TestWriteStateIsAtomic(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, 0)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a temporary file beside the good one; it is
	// never read, and the next write replaces the state whole.
	if err := os.WriteFile(filepath.Join(f.dir, "."+keysync.StateFile+".123"), []byte(`{"format":1,"keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := f.syncer(t, 0)
	if n, _, err := s2.LoadState(); err != nil || n != 1 {
		t.Fatalf("LoadState beside a torn temporary file: %d %v", n, err)
	}
	f.vault.Rotate(t, "release")
	if _, err := s2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(f.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Count(strings.Join(names, " "), keysync.StateFile) != 2 { // the file and the old torn temp
		t.Fatalf("files: %v", names)
	}
}

func TestPacerBacksOffAndJitters(t *testing.T) {
	var p keysync.Pacer
	interval := time.Minute
	if d := p.Next(interval, nil); d < 54*time.Second || d > 66*time.Second {
		t.Fatalf("interval with jitter: %s", d)
	}
	fail := os.ErrDeadlineExceeded
	var prev time.Duration
	for i := 0; i < 6; i++ {
		d := p.Next(interval, fail)
		if d > 66*time.Second || (i > 0 && i < 3 && d <= prev) {
			t.Fatalf("backoff %d: %s after %s", i, d, prev)
		}
		prev = d
	}
	if d := p.Next(interval, nil); d < 54*time.Second {
		t.Fatalf("after recovery: %s", d)
	}
}

// BenchmarkSync is one sync round of ten keys, two versions each, through
// the Vault client against a loopback server: signgate's own cost per round,
// which it pays every sync_interval, never on the decision path.
func BenchmarkSync(b *testing.B) {
	v := kmstest.NewVault(b)
	p := v.Provider(b)
	var specs []keysync.Spec
	for i := range 10 {
		n := fmt.Sprintf("key%d", i)
		v.CreateKey(b, n)
		v.Rotate(b, n)
		ref, _ := kms.Parse("hashivault://"+n, "")
		specs = append(specs, keysync.Spec{Name: n, Ref: ref, Grace: time.Hour})
	}
	s, err := keysync.New(specs, map[string]kms.Provider{"hashivault": p}, keysync.Options{StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnwritableStateStillUpdatesKeys(t *testing.T) {
	f := newFixture(t)
	// A file where the state directory should be: writing fails.
	f.dir = filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(f.dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := f.syncer(t, 0)
	_, err := s.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "saving the last-known-good keys") {
		t.Fatalf("sync with an unwritable state directory: %v", err)
	}
	if versions(s) != "release@1" {
		t.Fatalf("keys: %q", versions(s))
	}
}

// A rotated-out version stops being trusted when its grace period ends,
// also while the KMS cannot be reached and no sync round says so, and also
// when signgate starts from the state file after it ended (issue 11,
// item 4). Each key says when it stops being trusted, for the engine.
func TestGraceEndsWhileTheKMSIsDown(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, 0)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.vault.Rotate(t, "release")
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := versions(s); got != "release@2,release@1" {
		t.Fatalf("after rotation: %s", got)
	}
	for _, k := range s.Keys() {
		if k.Version == "1" && !k.NotAfter.Equal(f.clock.Now().Add(time.Hour)) {
			t.Errorf("the rotated-out version is trusted until %v, want the grace end", k.NotAfter)
		}
		if k.Version == "2" && !k.NotAfter.IsZero() {
			t.Errorf("the current version expires at %v", k.NotAfter)
		}
	}
	f.vault.SetDown(true)
	f.clock.Add(time.Hour + time.Second)
	if got := versions(s); got != "release@2" {
		t.Fatalf("past the grace period with the KMS down, trusted: %s", got)
	}
	restarted := f.syncer(t, 0)
	if _, _, err := restarted.LoadState(); err != nil {
		t.Fatal(err)
	}
	if got := versions(restarted); got != "release@2" {
		t.Fatalf("at start, past the grace period, trusted: %s", got)
	}
}

// Each key carries its staleness deadline, counted from its last sync.
func TestKeysCarryTheirStalenessDeadline(t *testing.T) {
	f := newFixture(t)
	s := f.syncer(t, time.Hour)
	if _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	synced := f.clock.Now()
	if k := s.Keys(); len(k) != 1 || !k[0].NotAfter.Equal(synced.Add(time.Hour)) {
		t.Fatalf("keys %+v: want one trusted until an hour after the sync", k)
	}
}
