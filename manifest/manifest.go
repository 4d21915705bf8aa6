// Package manifest reads sluice.yaml: the topics of a project, the schemas of
// their keys and values, the subjects those schemas are registered under, and
// the compatibility level each subject keeps. `sluice schema check` and
// `sluice apply` read it, and code generation reuses it.
//
// An annotated example (testdata/sluice.yaml holds a complete one):
//
//	# Defaults for every topic below; each may override them.
//	compatibility: BACKWARD      # NONE, BACKWARD, FORWARD, FULL (and *_TRANSITIVE)
//	strategy: topic              # topic, record or topic_record (subject naming)
//
//	# Optional: schema files that other files use, and references the
//	# loader cannot infer. Avro named types, Protobuf imports and relative
//	# JSON $refs are found on their own.
//	schemas:
//	  - file: schemas/address.avsc
//	    subject: com.acme.Address    # default: the reference name
//	  - file: schemas/order.avsc
//	    references: [schemas/address.avsc]
//
//	topics:
//	  - name: orders
//	    partitions: 3
//	    configs:
//	      retention.ms: "604800000"
//	    key:
//	      primitive: string          # an Avro primitive: string, int, long, ...
//	    value:
//	      file: schemas/order.avsc   # relative to the manifest
//	      record: com.acme.Order     # the record/message the topic carries
//	      rules: schemas/order.rules.json  # optional: the ruleSet registered
//	                                 # with it (data contracts), a JSON file
//	                                 # or a mapping inline
//	    compatibility: FULL          # this topic's subjects only
//
//	  # A topic carrying several event types: each is registered under a
//	  # subject of its own, so the value's strategy is record or
//	  # topic_record (a side may set its own strategy; the key here keeps
//	  # the topic strategy, subject shipments-key). sluice gen emits a
//	  # producer per event type, one consumer, and a handler struct with a
//	  # function per event type.
//	  - name: shipments
//	    key:
//	      primitive: string
//	    value:
//	      strategy: topic_record     # subjects shipments-com.acme.Shipped, ...
//	      schemas:
//	        - file: schemas/shipped.avsc
//	        - file: schemas/delivered.avsc
//	          record: com.acme.Delivered
//
// Paths are relative to the manifest's folder and use forward slashes, so a
// manifest means the same thing in a working tree, another folder and a git
// ref. Load reports every problem at once, each with its line and column.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// DefaultFile is the manifest's conventional name.
const DefaultFile = "sluice.yaml"

// maxPartitions mirrors the broker's limit on partitions per topic.
const maxPartitions = 1024

// Pos is a position in a file; Line and Col are 1-based, 0 when unknown.
type Pos struct {
	File      string
	Line, Col int
}

// String renders "file:line:col", dropping the parts that are unknown.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Col > 0 {
			s += ":" + strconv.Itoa(p.Col)
		}
	}
	return s
}

// Error is one problem in a manifest, at a position.
type Error struct {
	Pos    Pos
	Reason string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Reason }

// Errors is every problem Load found, in document order. Load returns it only
// when it is not empty.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the problems to errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Manifest is a parsed sluice.yaml.
type Manifest struct {
	// File is the manifest's path inside its file system.
	File string
	// Compatibility is the default level of every subject; "" leaves it to
	// the registry's configuration.
	Compatibility compat.Level
	// Strategy is the default subject-name strategy (TopicName when unset).
	Strategy serde.Strategy
	// Schemas are the explicitly declared schema files.
	Schemas []SchemaFile
	// Topics are the topics, in manifest order.
	Topics []Topic
}

// SchemaFile declares a schema file that other files reference, or
// references that cannot be inferred.
type SchemaFile struct {
	// File is the path relative to the manifest's folder.
	File string
	// Subject, if set, is the subject the file is registered under when it
	// is referenced; by default that is the reference name.
	Subject string
	// References are more files this one depends on.
	References []string
	Pos        Pos
}

// Topic is one topic and the schemas of its records.
type Topic struct {
	Name string
	// Partitions is the partition count; 0 means unspecified (1 on create).
	Partitions int
	// Configs are topic config overrides.
	Configs map[string]string
	// Key and Value are the schemas; nil when the side is schemaless. For a
	// topic that carries several event types Value is the first of Values.
	Key, Value *Schema
	// Values are every value schema: Value alone, or the event types listed
	// under the value's schemas (each registered under its own subject, so
	// the value strategy is record or topic_record); nil with Value.
	Values []*Schema
	// Strategy is the topic's subject-name strategy (the manifest's unless
	// the topic sets one); KeyStrategy and ValueStrategy are each side's,
	// which a side may override with a strategy of its own.
	Strategy                   serde.Strategy
	KeyStrategy, ValueStrategy serde.Strategy
	// Compatibility overrides the manifest default for this topic's subjects.
	Compatibility compat.Level
	Pos           Pos
}

// Multi reports whether the topic's values are of several event types
// (listed under the value's schemas).
func (t *Topic) Multi() bool { return len(t.Values) > 1 }

// SideStrategy is the subject-name strategy of a side of the topic.
func (t *Topic) SideStrategy(side serde.Side) serde.Strategy {
	st := t.ValueStrategy
	if side == serde.Key {
		st = t.KeyStrategy
	}
	if st == "" {
		st = t.Strategy
	}
	if st == "" {
		st = serde.TopicName
	}
	return st
}

// Schema is the schema of one side of a topic: a file and the record or
// message in it, or a primitive.
type Schema struct {
	// File is the schema file, relative to the manifest's folder.
	File string
	// Record is the full name of the record (Avro), message (Protobuf) or
	// title (JSON Schema) the topic carries. Empty means the file's first.
	Record string
	// Primitive is an Avro primitive type name when there is no file.
	Primitive string
	// Rules is the data-contract rule set registered with the schema
	// (DESIGN.md §11), from a JSON file (RulesFile, relative to the
	// manifest, loaded by Resolve) or written inline (RuleSet, compact
	// JSON); both empty when the entry declares none, which leaves the
	// registered rules as they are.
	RulesFile string
	RuleSet   []byte
	RulesPos  Pos
	Pos       Pos
	// event marks an entry of a side's schemas list (parsing only).
	event bool
}

// Format is the schema's format, from the file extension (a primitive is
// Avro).
func (s *Schema) Format() serde.Format {
	if s.Primitive != "" {
		return serde.Avro
	}
	f, _ := FormatOf(s.File)
	return f
}

// FormatOf tells a schema file's format from its extension: .avsc/.avro,
// .proto or .json.
func FormatOf(file string) (serde.Format, error) {
	switch strings.ToLower(path.Ext(file)) {
	case ".avsc", ".avro":
		return serde.Avro, nil
	case ".proto":
		return serde.Protobuf, nil
	case ".json":
		return serde.JSON, nil
	}
	return "", fmt.Errorf("cannot tell the schema format of %q from its extension: want .avsc, .avro, .proto or .json", file)
}

// primitives are the Avro primitive type names usable as a whole schema.
var primitives = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

// Load reads and validates the manifest at file inside fsys.
func Load(fsys fs.FS, file string) (*Manifest, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse parses and validates manifest text; file names it in positions and
// anchors its relative paths.
func Parse(file string, data []byte) (*Manifest, error) {
	p := &parser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{{Pos: Pos{File: file, Line: yamlErrLine(err)}, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	m := &Manifest{File: file, Strategy: serde.TopicName}
	if len(doc.Content) == 0 {
		return nil, Errors{{Pos: Pos{File: file, Line: 1, Col: 1}, Reason: "the manifest is empty: want a mapping with topics"}}
	}
	root := doc.Content[0]
	p.mapping(root, "the manifest", func(key string, k, v *yaml.Node) {
		switch key {
		case "compatibility":
			m.Compatibility = p.level(v)
		case "strategy":
			m.Strategy = p.strategy(v)
		case "schemas":
			p.sequence(v, "schemas", func(n *yaml.Node) { m.Schemas = append(m.Schemas, p.schemaFile(n)) })
		case "topics":
			p.sequence(v, "topics", func(n *yaml.Node) { m.Topics = append(m.Topics, p.topic(n, m)) })
		case "connectors":
			// Read and checked by `sluice connect` (package connect).
		default:
			p.unknown(k, key, "compatibility, strategy, schemas or topics")
		}
	})
	if root.Kind == yaml.MappingNode && len(m.Topics) == 0 && len(m.Schemas) == 0 && len(p.errs) == 0 {
		p.errorf(root, "the manifest declares no topics and no schemas")
	}
	seen := map[string]Pos{}
	for _, t := range m.Topics {
		if t.Name == "" {
			continue
		}
		if prev, ok := seen[t.Name]; ok {
			p.errs = append(p.errs, &Error{Pos: t.Pos, Reason: fmt.Sprintf("topic %q is declared twice (first at line %d)", t.Name, prev.Line)})
		}
		seen[t.Name] = t.Pos
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			a, b := p.errs[i].Pos, p.errs[j].Pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, p.errs
	}
	return m, nil
}

// Dir is the folder that the manifest's relative paths start from.
func (m *Manifest) Dir() string { return path.Dir(m.File) }

// Path turns a manifest-relative path into a path inside the manifest's
// file system.
func (m *Manifest) Path(rel string) string { return path.Join(m.Dir(), rel) }

// parser collects every problem instead of stopping at the first.
type parser struct {
	file string
	errs Errors
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) unknown(k *yaml.Node, key, want string) {
	p.errorf(k, "unknown key %q: want %s", key, want)
}

// mapping calls fn for every key of a mapping node, rejecting duplicates.
func (p *parser) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "key %q appears twice in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func (p *parser) sequence(n *yaml.Node, what string, fn func(*yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list", what)
		return
	}
	for _, c := range n.Content {
		fn(c)
	}
}

// scalar returns a scalar's text, reporting anything else.
func (p *parser) scalar(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a single value", what)
		return ""
	}
	return n.Value
}

func (p *parser) level(n *yaml.Node) compat.Level {
	s := p.scalar(n, "compatibility")
	if s == "" {
		return ""
	}
	l, err := compat.ParseLevel(s)
	if err != nil {
		p.errorf(n, "%v", err)
	}
	return l
}

func (p *parser) strategy(n *yaml.Node) serde.Strategy {
	s := p.scalar(n, "strategy")
	if s == "" {
		return ""
	}
	st, err := serde.ParseStrategy(s)
	if err != nil {
		p.errorf(n, "%v", err)
	}
	return st
}

// relPath checks a manifest-relative file path.
func (p *parser) relPath(n *yaml.Node, what string) string {
	s := p.scalar(n, what)
	switch {
	case s == "" && n.Kind == yaml.ScalarNode:
		p.errorf(n, "%s is empty", what)
	case strings.HasPrefix(s, "/") || strings.Contains(s, `\`):
		p.errorf(n, "%s %q must be a relative path with forward slashes", what, s)
	case s != "" && !fs.ValidPath(path.Clean(s)) && !strings.HasPrefix(path.Clean(s), "../"):
		p.errorf(n, "%s %q is not a valid path", what, s)
	}
	return path.Clean(s)
}

func (p *parser) schemaFile(n *yaml.Node) SchemaFile {
	sf := SchemaFile{Pos: p.pos(n)}
	p.mapping(n, "a schemas entry", func(key string, k, v *yaml.Node) {
		switch key {
		case "file":
			sf.File = p.relPath(v, "file")
			if _, err := FormatOf(sf.File); err != nil && sf.File != "" {
				p.errorf(v, "%v", err)
			}
		case "subject":
			sf.Subject = p.scalar(v, "subject")
		case "references":
			p.sequence(v, "references", func(r *yaml.Node) { sf.References = append(sf.References, p.relPath(r, "reference")) })
		default:
			p.unknown(k, key, "file, subject or references")
		}
	})
	if sf.File == "" && n.Kind == yaml.MappingNode {
		p.errorf(n, "a schemas entry needs a file")
	}
	return sf
}

func (p *parser) topic(n *yaml.Node, m *Manifest) Topic {
	t := Topic{Pos: p.pos(n), Strategy: m.Strategy, Compatibility: m.Compatibility}
	p.mapping(n, "a topic", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			t.Name = p.scalar(v, "name")
			if msg := topicNameProblem(t.Name); msg != "" && v.Kind == yaml.ScalarNode {
				p.errorf(v, "topic name %q %s", t.Name, msg)
			}
		case "partitions":
			s := p.scalar(v, "partitions")
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxPartitions {
				p.errorf(v, "partitions %q: want a whole number from 1 to %d", s, maxPartitions)
			}
			t.Partitions = n
		case "configs":
			t.Configs = map[string]string{}
			p.mapping(v, "configs", func(ck string, _, cv *yaml.Node) {
				t.Configs[ck] = p.scalar(cv, "config "+ck)
			})
		case "key":
			var several []*Schema
			t.Key, several, t.KeyStrategy = p.side(v, "key")
			if len(several) > 0 {
				p.errorf(v, "the key lists several schemas: only a value can carry several event types")
			}
		case "value":
			t.Value, t.Values, t.ValueStrategy = p.side(v, "value")
		case "strategy":
			t.Strategy = p.strategy(v)
		case "compatibility":
			t.Compatibility = p.level(v)
		default:
			p.unknown(k, key, "name, partitions, configs, key, value, strategy or compatibility")
		}
	})
	if n.Kind == yaml.MappingNode {
		if t.Name == "" {
			p.errorf(n, "a topic needs a name")
		}
		if t.Key == nil && t.Value == nil {
			p.errorf(n, "topic %q declares neither a key nor a value schema", t.Name)
		}
		sides := []struct {
			side    serde.Side
			schemas []*Schema
		}{{serde.Key, []*Schema{t.Key}}, {serde.Value, t.Values}}
		for _, sd := range sides {
			st := t.SideStrategy(sd.side)
			for _, s := range sd.schemas {
				if s != nil && st.NeedsRecordName() && s.Primitive != "" {
					p.errs = append(p.errs, &Error{Pos: s.Pos, Reason: fmt.Sprintf("the %s strategy needs a record name, which primitive %q does not have", st, s.Primitive)})
				}
			}
		}
		if t.Multi() && !t.SideStrategy(serde.Value).NeedsRecordName() {
			p.errs = append(p.errs, &Error{Pos: t.Value.Pos, Reason: fmt.Sprintf("topic %q lists %d value schemas under the %s strategy, which gives them all one subject: set the value's strategy to record or topic_record", t.Name, len(t.Values), t.SideStrategy(serde.Value))})
		}
	}
	if t.Value != nil && t.Values == nil {
		t.Values = []*Schema{t.Value}
	}
	p.strategyConfigs(n, &t)
	return t
}

// strategyConfigs checks that the topic's configs do not contradict the
// subject-name strategy of a side (EffectiveConfigs adds the ones missing).
func (p *parser) strategyConfigs(n *yaml.Node, t *Topic) {
	for key, st := range t.strategyConfigs() {
		if old, ok := t.Configs[key]; ok && old != st {
			p.errorf(n, "topic %q: config %s is %q but the %s strategy is %s: drop the config (the strategy sets it)", t.Name, key, old, strings.TrimSuffix(key, ".subject.name.strategy"), st)
		}
	}
}

// strategyConfigs are the broker configs that name each side's strategy,
// for the sides with a schema whose strategy is not the default (topic).
func (t *Topic) strategyConfigs() map[string]string {
	out := map[string]string{}
	for _, side := range []serde.Side{serde.Key, serde.Value} {
		if side == serde.Key && t.Key == nil || side == serde.Value && t.Value == nil {
			continue
		}
		if st := t.SideStrategy(side); st != serde.TopicName {
			out[side.String()+".subject.name.strategy"] = string(st)
		}
	}
	return out
}

// EffectiveConfigs are the configs a topic created from the manifest needs:
// Configs plus the subject-name strategy of each side whose strategy is
// not the broker's default (topic), so that the broker checks records
// against the subjects the manifest registers (a record or topic_record
// topic created without them refuses every record).
func (t *Topic) EffectiveConfigs() map[string]string {
	out := map[string]string{}
	for k, v := range t.strategyConfigs() {
		out[k] = v
	}
	for k, v := range t.Configs {
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// side parses a topic's key or value: one schema (a file or a primitive),
// or several event types under schemas; either with an optional strategy
// of its own. first is the one schema or the first of several.
func (p *parser) side(n *yaml.Node, side string) (first *Schema, several []*Schema, st serde.Strategy) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "the %s schema must be a mapping", side)
		return &Schema{Pos: p.pos(n)}, nil, ""
	}
	one := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	var list *yaml.Node
	p.mapping(n, "the "+side+" schema", func(key string, k, v *yaml.Node) {
		switch key {
		case "strategy":
			st = p.strategy(v)
		case "schemas":
			list = v
		default:
			one.Content = append(one.Content, k, v)
		}
	})
	if list == nil {
		return p.schema(one, side, false), nil, st
	}
	if len(one.Content) > 0 {
		p.errorf(one.Content[0], "the %s schema has schemas and %s: list every event type under schemas, each with its file and record", side, one.Content[0].Value)
	}
	p.sequence(list, "schemas", func(c *yaml.Node) {
		s := p.schema(c, side, true)
		if s.Primitive != "" {
			p.errs = append(p.errs, &Error{Pos: s.Pos, Reason: fmt.Sprintf("an event type of %s schemas needs a file (a primitive has no record name)", side)})
		}
		several = append(several, s)
	})
	if list.Kind == yaml.SequenceNode && len(several) == 0 {
		p.errorf(list, "the %s schemas list is empty", side)
	}
	if len(several) == 0 {
		return &Schema{Pos: p.pos(n)}, nil, st
	}
	return several[0], several, st
}

func (p *parser) schema(n *yaml.Node, side string, event bool) *Schema {
	s := &Schema{Pos: p.pos(n), event: event}
	p.mapping(n, "the "+side+" schema", func(key string, k, v *yaml.Node) {
		switch key {
		case "file":
			s.File = p.relPath(v, "file")
			if _, err := FormatOf(s.File); err != nil && s.File != "" {
				p.errorf(v, "%v", err)
			}
		case "record", "message":
			s.Record = p.scalar(v, key)
		case "primitive":
			s.Primitive = p.scalar(v, "primitive")
			if !slices.Contains(primitives, s.Primitive) {
				p.errorf(v, "primitive %q: want one of %s", s.Primitive, strings.Join(primitives, ", "))
			}
		case "rules":
			p.rules(v, s)
		default:
			want := "file, record (or message), primitive or rules"
			if !s.event {
				want = "file, record (or message), primitive, rules, strategy or schemas"
			}
			p.unknown(k, key, want)
		}
	})
	if n.Kind == yaml.MappingNode {
		switch {
		case s.File == "" && s.Primitive == "":
			p.errorf(n, "the %s schema needs a file or a primitive", side)
		case s.File != "" && s.Primitive != "":
			p.errorf(n, "the %s schema has both a file and a primitive: keep one", side)
		case s.Primitive != "" && s.Record != "":
			p.errorf(n, "the %s schema is a primitive and cannot name a record", side)
		}
	}
	return s
}

// rules parses a schema's rules: the path of a JSON file holding a
// ruleSet, or the ruleSet inline (Confluent's JSON shape written as YAML:
// domainRules, migrationRules, each rule a mapping).
func (p *parser) rules(n *yaml.Node, s *Schema) {
	s.RulesPos = p.pos(n)
	switch n.Kind {
	case yaml.ScalarNode:
		s.RulesFile = p.relPath(n, "rules")
		if s.RulesFile != "" && strings.ToLower(path.Ext(s.RulesFile)) != ".json" {
			p.errorf(n, "rules %q: want a .json file holding a ruleSet, or the ruleSet inline", s.RulesFile)
		}
	case yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			p.errorf(n, "rules: %v", err)
			return
		}
		js, err := CompactJSON(jsonable(v))
		if err != nil {
			p.errorf(n, "rules: %v", err)
			return
		}
		if msg := RuleSetProblem(js); msg != "" {
			p.errorf(n, "rules: %s", msg)
			return
		}
		s.RuleSet = js
	default:
		p.errorf(n, "rules must be the path of a JSON file or a mapping (the ruleSet inline)")
	}
}

// jsonable turns what YAML decoded (maps keyed by any) into values
// encoding/json takes.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
		return v
	}
	return v
}

// CompactJSON encodes v as compact JSON with sorted keys and without
// HTML escaping (a CEL expression's > and & stay as written).
func CompactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ruleSetLists are the lists a ruleSet may hold.
var ruleSetLists = []string{"domainRules", "migrationRules", "encodingRules"}

// RuleSetProblem says what is wrong with the shape of a ruleSet (a JSON
// object whose domainRules, migrationRules and encodingRules are lists of
// rules, each with a name, a kind and a type, names unique within a list),
// or "" when nothing is. What the rules say (a CEL expression that
// compiles) is checked by the registry, and by `sluice schema check`.
func RuleSetProblem(js []byte) string {
	var rs map[string]json.RawMessage
	if err := json.Unmarshal(js, &rs); err != nil {
		return "a ruleSet must be a JSON object: " + err.Error()
	}
	for k := range rs {
		if !slices.Contains(ruleSetLists, k) {
			return fmt.Sprintf("unknown key %q: want %s", k, strings.Join(ruleSetLists, ", "))
		}
	}
	for _, list := range ruleSetLists {
		raw, ok := rs[list]
		if !ok {
			continue
		}
		var rules []map[string]any
		if err := json.Unmarshal(raw, &rules); err != nil {
			return fmt.Sprintf("%s must be a list of rules (mappings)", list)
		}
		seen := map[string]bool{}
		for i, r := range rules {
			name, _ := r["name"].(string)
			for _, f := range []string{"name", "kind", "type"} {
				if v, _ := r[f].(string); v == "" {
					return fmt.Sprintf("%s rule %d has no %s", list, i+1, f)
				}
			}
			if seen[name] {
				return fmt.Sprintf("%s has two rules named %q", list, name)
			}
			seen[name] = true
		}
	}
	return ""
}

// topicNameProblem returns why a topic name is invalid, or "". The rules are
// the broker's: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..".
func topicNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > 249:
		return "is longer than 249 characters"
	case name == "." || name == "..":
		return "is reserved"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("has %q: want letters, digits, '.', '_' and '-'", r)
		}
	}
	return ""
}

// yamlErrLine digs the line out of a yaml syntax error ("yaml: line 3: ...").
func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if j > 0 {
			n, _ := strconv.Atoi(rest[:j])
			return n
		}
	}
	return 0
}
