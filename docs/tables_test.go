package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every markdown table renders: it opens with a header and a separator row,
// and each row has the header's number of cells. A row stranded after a
// paragraph or a list (as [registry]'s last four keys once were) renders as
// text with pipes in it.
func TestTablesRender(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	sep := regexp.MustCompile(`^\|( *:?-{3,}:? *\|)+$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var table []string // the rows of the table being read, with their line numbers
		start, fenced := 0, false
		check := func() {
			if len(table) == 0 {
				return
			}
			if len(table) < 2 || !sep.MatchString(table[1]) {
				t.Errorf("%s:%d: a table without a header and a separator row: %q", f, start, table[0])
			} else {
				want := cells(table[0])
				for i, row := range table {
					if n := cells(row); n != want {
						t.Errorf("%s:%d: %d cells, the header has %d: %.80q", f, start+i, n, want, row)
					}
				}
			}
			table = nil
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
			}
			if !fenced && strings.HasPrefix(line, "|") {
				if table == nil {
					start = i + 1
				}
				table = append(table, strings.TrimSpace(line))
				continue
			}
			check()
		}
		check()
	}
}

// cells counts a row's cells: its unescaped pipes, less the outer one.
func cells(row string) int {
	return strings.Count(row, "|") - strings.Count(row, `\|`) - 1
}
