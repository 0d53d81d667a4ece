package verify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzConditions: whatever statement an attester signs, parsing it and
// evaluating conditions over it neither panics nor runs past the cost
// limit; a condition that cannot be evaluated fails with a reason.
func FuzzConditions(f *testing.F) {
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	f.Add(`{"predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"` + h.Hex + `"}}],"predicate":{"runDetails":{"builder":{"id":"b"},"metadata":{"finishedOn":"2026-01-01T00:00:00Z"}},"buildDefinition":{"externalParameters":{"workflow":{"repository":"https://github.com/org/app"}}}}}`)
	f.Add(`{"predicateType":"https://cosign.sigstore.dev/attestation/vuln/v1","predicate":{"scanner":{"result":{"Results":[{"Vulnerabilities":[{"Severity":"CRITICAL"},{"Severity":1}]}]}},"metadata":{"scanFinishedOn":7}}}`)
	f.Add(`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"builder":[],"invocation":{"configSource":{"uri":"git+https://x@y"}}}}`)
	f.Add(`{"predicate":[[[[[]]]]],"subject":null}`)
	f.Add(`{"predicate":{"a":[` + strings.Repeat(`1,`, 5000) + `1]}}`)
	exprs := []string{
		`predicate.scanner.result.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))`,
		`predicate.a.exists(x, predicate.a.exists(y, x + y == -1))`,
		`predicate.runDetails.builder.id.startsWith("b") && timestamp(predicate.runDetails.metadata.finishedOn) > now - duration("24h")`,
		`size(subject) > 0 && subject[0].digest.sha256.matches("^[a-f0-9]+$")`,
		`predicate`,
	}
	var conds []*Condition
	for _, e := range exprs {
		c, err := CompileCondition(e)
		if err != nil {
			f.Fatal(err)
		}
		conds = append(conds, c)
	}
	conds = append(conds, BuildersCondition([]string{"b"}), SourceRepositoriesCondition([]string{"https://github.com/org/app"}), MaxAgeCondition(time.Hour))
	f.Fuzz(func(t *testing.T, raw string) {
		pt, in, _ := parseStatement([]byte(raw), h) // a bad statement is evaluated as far as it parsed
		in.predicateType, in.now = pt, time.Now()
		for _, c := range conds {
			start := time.Now()
			if err := c.eval(&in); err != nil && !strings.HasPrefix(err.Error(), c.Name) {
				t.Fatalf("%s: reason %q does not name the condition", c.Name, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("%s took %v", c.Name, d)
			}
		}
		if _, err := json.Marshal(in.predicate); err != nil && in.predicate != nil {
			t.Fatalf("predicate kept in a form that does not marshal: %v", err)
		}
	})
}

// A condition within the load-time estimate can still meet data larger
// than the estimate assumed: the limit stops it, and it fails.
func TestConditionCostLimitAtEvaluation(t *testing.T) {
	c, err := CompileCondition(`predicate.a.exists(x, predicate.a.exists(y, x + y == -1))`)
	if err != nil {
		t.Fatal(err)
	}
	var in attestationInput
	if err := json.Unmarshal([]byte(`{"a":[`+strings.Repeat(`1,`, 5000)+`1]}`), &in.predicate); err != nil {
		t.Fatal(err)
	}
	if err := c.eval(&in); err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("evaluated past the cost limit: %v", err)
	}
}
