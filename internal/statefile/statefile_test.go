package statefile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/statefile"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

type payload struct {
	CA string `json:"ca"`
}

// Every check a state file must pass, each refusal naming the file: an
// attacker who can write it, or a directory above it, must not choose
// what signgate trusts.
func TestStateFileIsRefusedUnlessOnlySigngateCouldWriteIt(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		spoil func(t *testing.T, state, dir, path string)
		want  string
	}{
		"group-writable file":    {func(t *testing.T, _, _, p string) { chmod(t, p, 0o620) }, "is writable by others"},
		"world-writable file":    {func(t *testing.T, _, _, p string) { chmod(t, p, 0o606) }, "is writable by others"},
		"writable directory":     {func(t *testing.T, _, d, _ string) { chmod(t, d, 0o770) }, "in a directory writable by others"},
		"writable state_dir":     {func(t *testing.T, s, _, _ string) { chmod(t, s, 0o1777) }, "in a directory writable by others"},
		"file of another user":   {func(t *testing.T, _, _, p string) { chown(t, p) }, "owned by uid 65534"},
		"directory of another":   {func(t *testing.T, _, d, _ string) { chown(t, d) }, "in a directory owned by uid 65534"},
		"edited, checksum stale": {func(t *testing.T, _, _, p string) { edit(t, p, "attacker-ca") }, "checksum does not match"},
		"no checksum (legacy)":   {func(t *testing.T, _, _, p string) { write(t, p, `{"ca": "attacker-ca"}`) }, "no checksummed"},
		"not json":               {func(t *testing.T, _, _, p string) { write(t, p, "\x00garbage") }, "corrupt"},
	} {
		t.Run(name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			dir := filepath.Join(state, "trust-roots")
			path := filepath.Join(dir, "public-good.json")
			if err := os.MkdirAll(state, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := statefile.Write(state, path, 1, "root", payload{CA: "good-ca"}, now); err != nil {
				t.Fatal(err)
			}
			var got payload
			if w, err := statefile.Read(state, path, 1, "root", &got); err != nil || got.CA != "good-ca" || !w.Equal(now) {
				t.Fatalf("read back: %+v %v %v", got, w, err)
			}
			c.spoil(t, state, dir, path)
			got = payload{}
			_, err := statefile.Read(state, path, 1, "root", &got)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("read: %v; want %q naming %s", err, c.want, path)
			}
			if got.CA != "" {
				t.Fatalf("a refused file's payload was used: %+v", got)
			}
		})
	}
}

func TestStateFileFormatAndAbsence(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(state, "kms-keys.json")
	var p payload
	if _, err := statefile.Read(state, path, 1, "keys", &p); err != statefile.ErrNotExist {
		t.Fatalf("missing file: %v", err)
	}
	if err := statefile.Write(state, path, 2, "keys", payload{CA: "x"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := statefile.Read(state, path, 1, "keys", &p); err == nil || !strings.Contains(err.Error(), "format 2") {
		t.Fatalf("other format: %v", err)
	}
	// Nothing is written where others could swap it.
	chmod(t, state, 0o777)
	if err := statefile.Write(state, path, 1, "keys", payload{CA: "x"}, time.Now()); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Fatalf("write into an open directory: %v", err)
	}
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Skip(t, "giving a file to another user needs root")
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// edit changes the payload and leaves the checksum, as an attacker who
// does not know the format would.
func edit(t *testing.T, p, ca string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, p, strings.Replace(string(b), "good-ca", ca, 1))
}
