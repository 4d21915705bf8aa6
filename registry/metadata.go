package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Metadata and rule sets (spec §1.2) are executed by clients, never by the
// registry. The registry validates the rule set's shape, stores both as
// compact JSON with object keys sorted (so that key order does not change a
// schema's identity, §5.1) and merges them with inherited and configured
// defaults on register (§4.3 step 4).

// confluentVersionKey is the metadata property Confluent uses to pin a
// schema to its version number.
const confluentVersionKey = "confluent:version"

// canonicalObject validates that raw is a JSON object (or absent/null) and
// returns it compact with sorted keys; nil when absent.
func canonicalObject(raw json.RawMessage, what string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s has data after the JSON object", what)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%s must be a JSON object", what)
	}
	return marshalCompact(v)
}

// marshalCompact marshals v with sorted map keys and without HTML escaping.
func marshalCompact(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// rule is the part of a rule the registry validates.
type rule struct {
	Name *string `json:"name"`
	Kind *string `json:"kind"`
	Mode *string `json:"mode"`
	Type *string `json:"type"`
}

var (
	ruleKinds          = []string{"TRANSFORM", "CONDITION"}
	migrationRuleModes = []string{"UPGRADE", "DOWNGRADE", "UPDOWN"}
	domainRuleModes    = []string{"WRITE", "READ", "WRITEREAD"}
	ruleLists          = []string{"migrationRules", "domainRules", "encodingRules"}
)

// validateRuleSet checks the shape of a canonical rule set and returns a
// message naming the first problem and where it is, "" when valid.
func validateRuleSet(rs json.RawMessage) string {
	if len(rs) == 0 {
		return ""
	}
	var lists map[string]json.RawMessage
	if err := json.Unmarshal(rs, &lists); err != nil {
		return err.Error()
	}
	names := map[string]string{}
	for _, list := range ruleLists {
		raw, ok := lists[list]
		if !ok || string(raw) == "null" {
			continue
		}
		var rules []json.RawMessage
		if err := json.Unmarshal(raw, &rules); err != nil {
			return fmt.Sprintf("%s must be an array of rules", list)
		}
		modes := domainRuleModes
		if list == "migrationRules" {
			modes = migrationRuleModes
		}
		for i, raw := range rules {
			where := fmt.Sprintf("%s[%d]", list, i)
			var r rule
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Sprintf("%s: must be an object with string name, kind, mode and type", where)
			}
			switch {
			case r.Name == nil || *r.Name == "":
				return where + ": missing rule name"
			case r.Kind == nil:
				return fmt.Sprintf("%s (%q): missing rule kind", where, *r.Name)
			case !slices.Contains(ruleKinds, *r.Kind):
				return fmt.Sprintf("%s (%q): kind %q is not TRANSFORM or CONDITION", where, *r.Name, *r.Kind)
			case r.Mode == nil:
				return fmt.Sprintf("%s (%q): missing rule mode", where, *r.Name)
			case !slices.Contains(modes, *r.Mode):
				return fmt.Sprintf("%s (%q): mode %q is not one of %v", where, *r.Name, *r.Mode, modes)
			case r.Type == nil || *r.Type == "":
				return fmt.Sprintf("%s (%q): missing rule type", where, *r.Name)
			}
			if prev, dup := names[*r.Name]; dup {
				return fmt.Sprintf("%s: rule name %q is already used by %s", where, *r.Name, prev)
			}
			names[*r.Name] = where
		}
	}
	return ""
}

// mergeMetadata lays over on top of base (either may be nil): tags and
// properties merge key by key with over winning, sensitive is the union,
// other members are replaced. The result is canonical.
func mergeMetadata(base, over json.RawMessage) (json.RawMessage, error) {
	if len(over) == 0 {
		return base, nil
	}
	if len(base) == 0 {
		return over, nil
	}
	var b, o map[string]any
	if err := unmarshalNumbers(base, &b); err != nil {
		return nil, err
	}
	if err := unmarshalNumbers(over, &o); err != nil {
		return nil, err
	}
	for k, ov := range o {
		switch k {
		case "tags", "properties":
			bm, _ := b[k].(map[string]any)
			om, ok := ov.(map[string]any)
			if !ok || bm == nil {
				b[k] = ov
				continue
			}
			for kk, vv := range om {
				bm[kk] = vv
			}
		case "sensitive":
			bl, _ := b[k].([]any)
			ol, ok := ov.([]any)
			if !ok {
				b[k] = ov
				continue
			}
			for _, x := range ol {
				if !slices.Contains(bl, x) {
					bl = append(bl, x)
				}
			}
			b[k] = bl
		default:
			b[k] = ov
		}
	}
	return marshalCompact(b)
}

// mergeRuleSet lays over on top of base: in each rule list, a rule of over
// replaces the rule of base with the same name in place, other rules of over
// are appended.
func mergeRuleSet(base, over json.RawMessage) (json.RawMessage, error) {
	if len(over) == 0 {
		return base, nil
	}
	if len(base) == 0 {
		return over, nil
	}
	var b, o map[string]any
	if err := unmarshalNumbers(base, &b); err != nil {
		return nil, err
	}
	if err := unmarshalNumbers(over, &o); err != nil {
		return nil, err
	}
	for k, ov := range o {
		bl, _ := b[k].([]any)
		ol, ok := ov.([]any)
		if !ok || !slices.Contains(ruleLists, k) {
			b[k] = ov
			continue
		}
		for _, r := range ol {
			name := ruleName(r)
			i := slices.IndexFunc(bl, func(x any) bool { return name != "" && ruleName(x) == name })
			if i >= 0 {
				bl[i] = r
			} else {
				bl = append(bl, r)
			}
		}
		b[k] = bl
	}
	return marshalCompact(b)
}

func ruleName(r any) string {
	m, _ := r.(map[string]any)
	s, _ := m["name"].(string)
	return s
}

func unmarshalNumbers(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// metadataProperty returns metadata.properties[key].
func metadataProperty(md json.RawMessage, key string) (string, bool) {
	if len(md) == 0 {
		return "", false
	}
	var m struct {
		Properties map[string]any `json:"properties"`
	}
	if json.Unmarshal(md, &m) != nil {
		return "", false
	}
	v, ok := m.Properties[key]
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

// withVersionProperty returns md with properties["confluent:version"] set to
// version (§4.3 step 4).
func withVersionProperty(md json.RawMessage, version int) (json.RawMessage, error) {
	m := map[string]any{}
	if len(md) > 0 {
		if err := unmarshalNumbers(md, &m); err != nil {
			return nil, err
		}
	}
	props, _ := m["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	props[confluentVersionKey] = strconv.Itoa(version)
	m["properties"] = props
	return marshalCompact(m)
}
