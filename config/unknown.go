package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// unknownKeys says, for each key the file has and signgate does not know,
// where it is (the policy by number and name, as other errors do) and the
// known key nearest to it: a typo should not need the docs to find.
func unknownKeys(data string, und []toml.Key) []string {
	var raw map[string]any
	_, _ = toml.Decode(data, &raw) // it decoded once already
	unknown := map[string]bool{}
	for _, k := range und {
		unknown[k.String()] = true
	}
	var out []string
	for _, k := range und {
		if len(k) > 1 && unknown[k[:len(k)-1].String()] {
			continue // inside an unknown table: that table is the mistake
		}
		where := k.String()
		if len(k) > 1 && k[0] == "policy" {
			where = strings.Join(policyPaths(raw, k[1:]), ", ")
		}
		msg := where
		if to, ok := renamedKeys[strings.Join(k, ".")]; ok {
			out = append(out, msg+" (renamed: "+to+")")
			continue
		}
		if near := nearest(k[len(k)-1], knownKeys(reflect.TypeOf(File{}), k[:len(k)-1])); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		out = append(out, msg)
	}
	return out
}

// renamedKeys are keys signgate once read under another name, by their
// path (policy tables by their TOML path): the old name is refused, saying
// the new one, rather than silently meaning nothing.
var renamedKeys = map[string]string{
	"policy.notation.identities": `write trusted_identities, notation's trusted identities, which are not the keyless signers of [identities.NAME]`,
}

// policyPaths names key (under a [[policy]]) in every policy that has it,
// as other errors do: policy[1] "prod".cosign.kyes,
// policy[0] "p".attestation[0].every_signature.
func policyPaths(raw map[string]any, key []string) []string {
	ps, _ := raw["policy"].([]map[string]any)
	var out []string
	for i, p := range ps {
		at := fmt.Sprintf("policy[%d]", i)
		if n, ok := p["name"].(string); ok && n != "" {
			at = fmt.Sprintf("policy[%d] %q", i, n)
		}
		out = append(out, find(p, key, at)...)
	}
	if len(out) == 0 {
		return []string{"policy." + strings.Join(key, ".")}
	}
	return out
}

// find gives the paths at which m holds key, below at.
func find(m map[string]any, key []string, at string) []string {
	v, ok := m[key[0]]
	at += "." + key[0]
	if !ok || len(key) == 1 {
		if ok {
			return []string{at}
		}
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		return find(x, key[1:], at)
	case []map[string]any: // [[policy.attestation]]
		var out []string
		for i, e := range x {
			out = append(out, find(e, key[1:], fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	}
	return nil
}

// knownKeys lists the keys the table at path may hold, from the toml tags.
func knownKeys(t reflect.Type, path []string) []string {
	for len(path) > 0 || t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			t = t.Elem()
			continue
		case reflect.Map: // [keys.NAME]: the next part is a name
			t, path = t.Elem(), path[1:]
			continue
		case reflect.Struct:
			f, ok := fieldByTag(t, path[0])
			if !ok {
				return nil
			}
			t, path = f.Type, path[1:]
			continue
		}
		return nil
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// nearest is the known key within a few edits of key, if any.
func nearest(key string, known []string) string {
	best, bestD := "", len(key)/2+2
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
