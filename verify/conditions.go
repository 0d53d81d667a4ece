package verify

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// Conditions over an attestation's predicate are CEL expressions written
// in the config, compiled and type-checked when it loads. They see:
//
//	predicate      the statement's predicate, as JSON (dyn)
//	predicateType  the statement's predicate type (string)
//	subject        the statement's subjects (list)
//	now            the time of the verification (timestamp)
//
// and must yield a bool.

// maxConditionCost bounds one evaluation of one condition, in CEL cost units
// (about one per operation): at load, for the worst case with every list,
// map and string of the predicate conditionSizeModel long; at evaluation, for
// the real data. Two loops nested pass; three do not.
const maxConditionCost = 1_000_000

// conditionSizeModel is the length the load-time estimate gives each list,
// map and string whose length it cannot know.
const conditionSizeModel = 100

// ErrCondition is the family of conditions that do not compile, do not
// type-check, or cost too much; each is a *ConditionError.
var ErrCondition = errors.New("invalid condition")

// ConditionError is one condition refused at load.
type ConditionError struct {
	Expr    string
	Problem string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("condition %q: %s", e.Expr, e.Problem)
}

// Unwrap makes errors.Is(err, ErrCondition) true.
func (e *ConditionError) Unwrap() error { return ErrCondition }

// Condition is one check an attestation must pass: a compiled CEL
// expression, or a named helper written in Go.
type Condition struct {
	// Name is how messages name it: the helper ("max_age = 168h") or the
	// expression as written.
	Name string
	prg  cel.Program
	// helper is a built-in check; it returns nil when the attestation
	// passes, or why not.
	helper func(in *attestationInput) error
	// readsNow: the expression reads `now`, so its answer may change with
	// time alone and a verdict resting on it is never renewed.
	readsNow bool
}

// attestationInput is what a condition is evaluated on.
type attestationInput struct {
	predicateType string
	predicate     any   // decoded JSON
	subject       []any // decoded JSON
	signedAt      time.Time
	now           time.Time
}

// conditionEnv is built on first use: CEL's standard library costs a few
// MiB of heap, which a node whose policies use no condition never pays.
var conditionEnv = sync.OnceValue(func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("predicate", cel.DynType),
		cel.Variable("predicateType", cel.StringType),
		cel.Variable("subject", cel.ListType(cel.DynType)),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
		ext.Sets(),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		panic("verify: the CEL environment does not build: " + err.Error())
	}
	return env
})

// CompileCondition compiles and type-checks expr, and refuses it if its
// worst-case cost exceeds maxConditionCost.
func CompileCondition(expr string) (*Condition, error) {
	bad := func(format string, args ...any) error {
		return &ConditionError{Expr: expr, Problem: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(expr) == "" {
		return nil, bad("empty expression")
	}
	ast, iss := conditionEnv().Compile(expr)
	if iss.Err() != nil {
		return nil, bad("%s", strings.TrimSpace(strings.ReplaceAll(iss.Err().Error(), "\n", " ")))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, bad("yields %s, but a condition must yield a bool", t)
	}
	est, err := conditionEnv().EstimateCost(ast, sizeModel{})
	if err != nil {
		return nil, bad("cannot estimate its cost: %v", err)
	}
	if est.Max > maxConditionCost {
		return nil, bad("may cost up to %d CEL units with lists of %d items, over the limit of %d; loop over fewer nested lists",
			est.Max, conditionSizeModel, maxConditionCost)
	}
	prg, err := conditionEnv().Program(ast, cel.CostLimit(maxConditionCost), cel.InterruptCheckFrequency(1000))
	if err != nil {
		return nil, bad("%v", err)
	}
	readsNow := false
	for _, ref := range ast.NativeRep().ReferenceMap() {
		readsNow = readsNow || ref.Name == "now"
	}
	return &Condition{Name: expr, prg: prg, readsNow: readsNow}, nil
}

// sizeModel is the load-time estimator: every list, map and string the
// expression reaches is at most conditionSizeModel long.
type sizeModel struct{}

func (sizeModel) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: conditionSizeModel}
}

func (sizeModel) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// eval runs the condition: nil when the attestation passes, else why not,
// naming the condition. An evaluation error (a missing field, a wrong
// type, the cost limit) fails it.
func (c *Condition) eval(in *attestationInput) error {
	if c.helper != nil {
		return c.helper(in)
	}
	subject := in.subject
	if subject == nil {
		subject = []any{}
	}
	predicate := in.predicate
	if predicate == nil {
		predicate = map[string]any{}
	}
	out, _, err := c.prg.Eval(map[string]any{
		"predicate":     predicate,
		"predicateType": in.predicateType,
		"subject":       subject,
		"now":           in.now,
	})
	if err != nil {
		// An excerpt: CEL's messages can run long.
		return excerptf(err, "%s: cannot be evaluated", c.Name)
	}
	if b, ok := out.Value().(bool); !ok {
		return fmt.Errorf("%s: yields %v, not a bool", c.Name, out.Type())
	} else if !b {
		return fmt.Errorf("%s: false", c.Name)
	}
	return nil
}

// Predicate types signgate knows fields of, for the helpers.
const (
	PredicateSLSA02    = "https://slsa.dev/provenance/v0.2"
	PredicateSLSA1     = "https://slsa.dev/provenance/v1"
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	PredicateVuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateOpenVEX   = "https://openvex.dev/ns"
	PredicateCustom    = "https://cosign.sigstore.dev/attestation/v1"
	PredicateLink      = "https://in-toto.io/Link/v1"
)

// predicateTypes are cosign's short names (`cosign attest --type`).
var predicateTypes = map[string]string{
	"slsaprovenance":   PredicateSLSA02,
	"slsaprovenance02": PredicateSLSA02,
	"slsaprovenance1":  PredicateSLSA1,
	"spdx":             PredicateSPDX,
	"spdxjson":         PredicateSPDX,
	"cyclonedx":        PredicateCycloneDX,
	"vuln":             PredicateVuln,
	"openvex":          PredicateOpenVEX,
	"custom":           PredicateCustom,
	"link":             PredicateLink,
}

// ParsePredicateType takes cosign's short name for a predicate type or the
// type's URI.
func ParsePredicateType(t string) (string, error) {
	if uri, ok := predicateTypes[t]; ok {
		return uri, nil
	}
	if strings.Contains(t, "://") && !strings.ContainsAny(t, " \t\n") {
		return t, nil
	}
	return "", fmt.Errorf("type = %q: want a predicate type URI or one of cosign's names (slsaprovenance1, slsaprovenance02, spdxjson, cyclonedx, vuln, openvex, link, custom)", t)
}

// BuildersCondition requires an SLSA provenance whose builder is one of ids
// (runDetails.builder.id in v1, builder.id in v0.2).
func BuildersCondition(ids []string) *Condition {
	name := fmt.Sprintf("builders = %q", ids)
	return &Condition{Name: name, helper: func(in *attestationInput) error {
		id := field(in.predicate, "runDetails", "builder", "id")
		if in.predicateType == PredicateSLSA02 {
			id = field(in.predicate, "builder", "id")
		}
		if id == "" {
			return errors.New(name + ": the provenance names no builder")
		}
		if !contains(ids, id) {
			return fmt.Errorf("%s: built by %q", name, id)
		}
		return nil
	}}
}

// SourceRepositoriesCondition requires an SLSA provenance built from one of
// repos: buildDefinition.externalParameters.workflow.repository (GitHub
// Actions) or the first resolved dependency in v1, invocation.configSource.uri
// in v0.2; a "git+" prefix and an "@ref" suffix are ignored.
func SourceRepositoriesCondition(repos []string) *Condition {
	name := fmt.Sprintf("source_repositories = %q", repos)
	want := make([]string, len(repos))
	for i, r := range repos {
		want[i] = normalizeRepo(r)
	}
	return &Condition{Name: name, helper: func(in *attestationInput) error {
		var src string
		switch in.predicateType {
		case PredicateSLSA02:
			src = field(in.predicate, "invocation", "configSource", "uri")
		default:
			src = field(in.predicate, "buildDefinition", "externalParameters", "workflow", "repository")
			if src == "" {
				if deps, ok := lookup(in.predicate, "buildDefinition", "resolvedDependencies").([]any); ok && len(deps) > 0 {
					src = field(deps[0], "uri")
				}
			}
		}
		if src == "" {
			return errors.New(name + ": the provenance names no source repository")
		}
		if !contains(want, normalizeRepo(src)) {
			return fmt.Errorf("%s: built from %q", name, src)
		}
		return nil
	}}
}

func normalizeRepo(s string) string {
	s = strings.TrimPrefix(s, "git+")
	if i := strings.LastIndex(s, "@"); i > strings.Index(s, "://")+2 && strings.Contains(s, "://") {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
}

// MaxAgeCondition requires an attestation made within max of the
// verification: by the time its predicate states (a scan's or build's
// finish, an SBOM's creation), or else the time its signature was logged or
// timestamped. One with neither fails.
func MaxAgeCondition(max time.Duration) *Condition {
	name := fmt.Sprintf("max_age = %s", max)
	return &Condition{Name: name, helper: func(in *attestationInput) error {
		at, from := attestedAt(in)
		if at.IsZero() {
			return errors.New(name + ": the attestation states no time, and its signature carries no log entry or timestamp")
		}
		if age := in.now.Sub(at); age > max {
			return fmt.Errorf("%s: made %s ago (%s %s)", name, age.Round(time.Minute), from, at.UTC().Format(time.RFC3339))
		}
		return nil
	}}
}

// attestedAt is when the attestation says it was made, and the field
// that says so.
func attestedAt(in *attestationInput) (time.Time, string) {
	var path []string
	switch in.predicateType {
	case PredicateVuln:
		path = []string{"metadata", "scanFinishedOn"}
	case PredicateSLSA1:
		path = []string{"runDetails", "metadata", "finishedOn"}
	case PredicateSLSA02:
		path = []string{"metadata", "buildFinishedOn"}
	case PredicateCycloneDX:
		path = []string{"metadata", "timestamp"}
	case PredicateSPDX:
		path = []string{"creationInfo", "created"}
	case PredicateOpenVEX:
		path = []string{"timestamp"}
	case PredicateCustom:
		path = []string{"Timestamp"}
	}
	if path != nil {
		if s := field(in.predicate, path...); s != "" {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return t, "predicate." + strings.Join(path, ".")
			}
		}
	}
	return in.signedAt, "signed at"
}

func lookup(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func field(v any, path ...string) string {
	s, _ := lookup(v, path...).(string)
	return s
}
