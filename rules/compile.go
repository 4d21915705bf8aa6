package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	hamba "github.com/hamba/avro/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// costLimit bounds one evaluation of one expression, in CEL's cost units
// (about one per operation, more for comprehensions over a record's lists),
// so that a rule cannot make the broker spin on a large record.
const costLimit = 1_000_000

// CompileError is a rule whose expression does not compile against the
// schema; Message is the compiler's.
type CompileError struct {
	Rule    string
	Type    string
	Message string
}

// Error names the rule and quotes the compiler.
func (e *CompileError) Error() string {
	return fmt.Sprintf("rule %q (%s) does not compile: %s", e.Rule, e.Type, e.Message)
}

// Set is the compiled produce-side rules of one schema version. It is safe
// for concurrent use.
type Set struct {
	format serde.Format
	avro   hamba.Schema
	json   *jsonschema.Schema
	proto  *protobuf.Schema
	tags   []tagPattern
	rules  []Rule // the rules that run on produce, in ruleSet order

	// compiled holds the programs: one entry for Avro and JSON, one per
	// message-index path for Protobuf (the message type changes the
	// declarations), filled on demand.
	mu       sync.Mutex
	compiled map[string]*programs
}

// programs is the rules compiled for one message type.
type programs struct {
	rules []compiledRule
	err   error
}

type compiledRule struct {
	rule      *Rule
	guard     cel.Program // nil without a guard
	body      cel.Program
	bodyText  string
	onSuccess string
	onFailure string
}

// Compile compiles the produce-side rules of a schema's ruleSet against the
// schema. A ruleSet with no such rule gives a Set whose Empty is true. An
// expression that does not compile is a *CompileError (for Protobuf, the
// rules must compile against one top-level message at least; a record of a
// message they do not compile against is refused with the error).
func Compile(s serde.Schema, metadata, ruleSet json.RawMessage) (*Set, error) {
	rs, err := ParseRuleSet(ruleSet)
	if err != nil {
		return nil, err
	}
	set := &Set{format: s.Format(), compiled: map[string]*programs{}}
	for i := range rs.DomainRules {
		if appliesOnWrite(&rs.DomainRules[i]) {
			set.rules = append(set.rules, rs.DomainRules[i])
		}
	}
	if len(set.rules) == 0 {
		return set, nil
	}
	if set.tags, err = parseTagPatterns(metadata); err != nil {
		return nil, err
	}
	switch t := s.(type) {
	case *avro.Schema:
		set.avro = t.Avro()
	case *jsonschema.Schema:
		set.json = t
	case *protobuf.Schema:
		set.proto = t
	default:
		return nil, fmt.Errorf("rules: unsupported schema implementation %T", s)
	}
	if set.proto == nil {
		if p := set.programsFor(nil); p.err != nil {
			return nil, p.err
		}
		return set, nil
	}
	// Protobuf: a record may be any message of the file, so the rules
	// must compile against one top-level message at least; the first
	// message's error is reported otherwise.
	var first error
	for i := range set.proto.File().Messages().Len() {
		p := set.programsFor([]int{i})
		if p.err == nil {
			return set, nil
		}
		if first == nil {
			first = p.err
		}
	}
	if first == nil {
		first = errors.New("rules: the Protobuf schema has no message")
	}
	return nil, first
}

// Empty reports whether no rule runs on produce.
func (s *Set) Empty() bool { return s == nil || len(s.rules) == 0 }

// Rules returns the rules that run on produce.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// pathKey keys the compiled programs by message-index path.
func pathKey(path []int) string {
	if len(path) == 0 {
		return "0"
	}
	var sb strings.Builder
	for i, x := range path {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(strconv.Itoa(x))
	}
	return sb.String()
}

// programsFor returns (compiling on first use) the programs for the
// message that path names.
func (s *Set) programsFor(path []int) *programs {
	key := pathKey(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.compiled[key]; ok {
		return p
	}
	p := s.compile(path)
	s.compiled[key] = p
	return p
}

func (s *Set) compile(path []int) *programs {
	msgType := cel.DynType
	var opts []cel.EnvOption
	if s.proto != nil {
		md, err := s.proto.MessageByIndexes(path)
		if err != nil {
			return &programs{err: err}
		}
		opts = append(opts, cel.TypeDescs(md.ParentFile()))
		msgType = cel.ObjectType(string(md.FullName()))
	}
	opts = append(opts, ext.Strings(), ext.Encoders(), ext.Math(), ext.Lists(), ext.Sets(), cel.OptionalTypes(), builtins())
	msgEnv, err := cel.NewEnv(append(opts, cel.Variable("message", msgType))...)
	if err != nil {
		return &programs{err: fmt.Errorf("rules: CEL environment: %v", err)}
	}
	fieldEnv, err := cel.NewEnv(append(opts,
		cel.Variable("message", msgType),
		cel.Variable("value", cel.DynType),
		cel.Variable("name", cel.StringType),
		cel.Variable("fullName", cel.StringType),
		cel.Variable("typeName", cel.StringType),
		cel.Variable("tags", cel.ListType(cel.StringType)),
	)...)
	if err != nil {
		return &programs{err: fmt.Errorf("rules: CEL environment: %v", err)}
	}
	out := &programs{}
	for i := range s.rules {
		r := &s.rules[i]
		env := msgEnv
		if r.Type == TypeCELField {
			env = fieldEnv
		}
		guard, body := splitGuard(r.Expr)
		cr := compiledRule{rule: r, bodyText: body, onSuccess: writeAction(r.OnSuccess, ActionNone), onFailure: writeAction(r.OnFailure, ActionError)}
		if body == "" {
			return &programs{err: &CompileError{Rule: r.Name, Type: r.Type, Message: "expr is empty"}}
		}
		if guard != "" {
			if cr.guard, err = compileExpr(env, guard, s); err != nil {
				return &programs{err: &CompileError{Rule: r.Name, Type: r.Type, Message: "guard: " + err.Error()}}
			}
		}
		if cr.body, err = compileExpr(env, body, s); err != nil {
			return &programs{err: &CompileError{Rule: r.Name, Type: r.Type, Message: err.Error()}}
		}
		out.rules = append(out.rules, cr)
	}
	return out
}

// compileExpr compiles one boolean expression; field selections on
// `message` are checked against the schema for Avro and JSON, whose message
// is dynamic to CEL.
func compileExpr(env *cel.Env, expr string, s *Set) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, errors.New(iss.Err().Error())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%s: the expression is a %s, a condition must be a bool", expr, t)
	}
	if err := checkSelections(ast, s); err != nil {
		return nil, fmt.Errorf("%s: %v", expr, err)
	}
	return env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
}

// messageDescriptor is the Protobuf message a Set's default path names.
func (s *Set) messageDescriptor(path []int) (protoreflect.MessageDescriptor, error) {
	return s.proto.MessageByIndexes(path)
}
