package nri

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each file of the plugin does one job (handlers, memos, version gating,
// what runs, the connection); one that grows past this has taken another.
const maxFileLines = 300

func TestNoFileOverMaxLines(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n > maxFileLines {
			t.Errorf("nri/%s has %d lines, over %d: split it by job", f, n, maxFileLines)
		}
	}
}
