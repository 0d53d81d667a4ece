// Command vulngate reads govulncheck's JSON from stdin and fails when code
// calls a vulnerable symbol that allowed.txt does not justify. Findings in
// modules or packages the code does not call are listed, not failed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: govulncheck -format json ./... | vulngate allowed.txt")
		os.Exit(2)
	}
	allowed, err := readAllowed(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	summaries := map[string]string{}
	called := map[string]string{} // id -> "module@version, fixed in ..."
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulngate: reading govulncheck's output:", err)
			os.Exit(2)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			called[f.OSV] = fmt.Sprintf("%s@%s, fixed in %s", f.Trace[0].Module, f.Trace[0].Version, f.FixedVersion)
		}
	}
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	failed := 0
	for _, id := range ids {
		if why, ok := allowed[id]; ok {
			fmt.Printf("allowed  %s (%s): %s\n         %s\n", id, called[id], summaries[id], why)
			continue
		}
		failed++
		fmt.Printf("CALLED   %s (%s): %s\n", id, called[id], summaries[id])
	}
	for id := range allowed {
		if _, ok := called[id]; !ok {
			fmt.Printf("stale    %s is allowed in %s but no longer found: remove it\n", id, os.Args[1])
		}
	}
	fmt.Printf("%d vulnerabilities reached from signgate's code, %d of them justified in %s\n", len(ids), len(ids)-failed, os.Args[1])
	if failed > 0 {
		os.Exit(1)
	}
}

// readAllowed reads "GO-YYYY-NNNN  why it does not apply" lines.
func readAllowed(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		id, why, _ := strings.Cut(l, " ")
		if !strings.HasPrefix(id, "GO-") || strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("%s:%d: want \"GO-YYYY-NNNN why it does not apply\"", path, i+1)
		}
		out[id] = strings.TrimSpace(why)
	}
	return out, nil
}
