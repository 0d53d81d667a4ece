package kubecheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const (
	alertsFile    = chart + "/files/alerts.yaml"
	dashboardFile = chart + "/files/dashboard.json"
)

// The chart's alerting rules, with promtool: they parse, and
// testdata/alerts_test.yaml holds each alert to the series it is about.
func TestAlertRules(t *testing.T) {
	bin := os.Getenv("SIGNGATE_PROMTOOL")
	if bin == "" {
		skip(t, "SIGNGATE_PROMTOOL is not set: the alerting rules are not tested")
	}
	for _, args := range [][]string{{"check", "rules", alertsFile}, {"test", "rules", "testdata/alerts_test.yaml"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// pendingMetrics are named by the rules or the dashboard before signgate
// exports them (another change adds them). Once daemon/ defines one, the
// test says to take it off this list.
var pendingMetrics = map[string]string{
}

// Every signgate metric the rules and the dashboard name is one signgate
// exports (daemon/*.go): a renamed metric would leave an alert that never
// fires and a panel that stays empty.
func TestRulesAndDashboardNameRealMetrics(t *testing.T) {
	defined := map[string]bool{}
	files, err := filepath.Glob("../../../daemon/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("daemon/*.go: %v", err)
	}
	nameRE := regexp.MustCompile(`Name:\s*"(signgate_[a-z0-9_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range nameRE.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
	}
	if !defined["signgate_decisions_total"] {
		t.Fatalf("found no metric definitions in daemon/*.go: %v", defined)
	}
	for n, why := range pendingMetrics {
		if defined[n] {
			t.Errorf("%s is defined in daemon/ now: take it off pendingMetrics (%s)", n, why)
		}
	}

	used := map[string][]string{}
	useRE := regexp.MustCompile(`signgate_[a-z0-9_]+`)
	for _, f := range []string{alertsFile, dashboardFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		for _, m := range useRE.FindAllString(string(b), -1) {
			used[m] = append(used[m], filepath.Base(f))
		}
	}
	var missing []string
	for n, where := range used {
		base := n
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if t := strings.TrimSuffix(n, s); t != n && defined[t] {
				base = t // a histogram's series
			}
		}
		if !defined[base] && pendingMetrics[base] == "" {
			missing = append(missing, n+" (in "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("named but not exported by signgate (daemon/*.go):\n%s", strings.Join(missing, "\n"))
	}
	if len(used) < 10 {
		t.Fatalf("only %d metric names found in the rules and dashboard", len(used))
	}
}
