package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
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
	// Rule is the rule's name, Type its type (CEL, CEL_FIELD).
	Rule string
	Type string
	// Message is the compiler's, with the expression.
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
	// first is the programs of a nil or [0] path, the usual record,
	// read without the lock.
	first atomic.Pointer[programs]
}

// programs is the rules compiled for one message type.
type programs struct {
	rules []compiledRule
	err   error
	// need is the top-level fields the rules read, when they read the
	// message only through selections (`message.total`); nil means the
	// whole message (a CEL_FIELD rule, `message` passed whole).
	need *fieldSet
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
	if len(path) == 1 && path[0] >= 0 && path[0] < len(smallKeys) {
		return smallKeys[path[0]]
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

var smallKeys = [...]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// programsFor returns (compiling on first use) the programs for the
// message that path names.
func (s *Set) programsFor(path []int) *programs {
	usual := len(path) == 0 || (len(path) == 1 && path[0] == 0)
	if usual {
		if p := s.first.Load(); p != nil {
			return p
		}
	}
	key := pathKey(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.compiled[key]; ok {
		return p
	}
	p := s.compile(path)
	s.compiled[key] = p
	if usual {
		s.first.Store(p)
	}
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
	out := &programs{need: &fieldSet{}}
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
			if cr.guard, err = compileExpr(env, guard, s, out); err != nil {
				return &programs{err: &CompileError{Rule: r.Name, Type: r.Type, Message: "guard: " + err.Error()}}
			}
		}
		if cr.body, err = compileExpr(env, body, s, out); err != nil {
			return &programs{err: &CompileError{Rule: r.Name, Type: r.Type, Message: err.Error()}}
		}
		if r.Type == TypeCELField {
			out.need = nil // every field is walked
		}
		out.rules = append(out.rules, cr)
	}
	return out
}

// compileExpr compiles one boolean expression; field selections on
// `message` are checked against the schema for Avro and JSON, whose message
// is dynamic to CEL.
func compileExpr(env *cel.Env, expr string, s *Set, out *programs) (cel.Program, error) {
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
	if out.need != nil {
		names, all := topFields(ast)
		if all {
			out.need = nil
		} else {
			out.need.add(names...)
		}
	}
	// The cost limit is tracked at run time only when the static estimate
	// cannot bound the expression (comprehensions over a record's lists,
	// string functions over its strings): tracking costs allocations on
	// every evaluation.
	if est, err := env.EstimateCost(ast, noEstimates{}); err == nil && est.Max <= costLimit {
		return env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	}
	return env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
}

// noEstimates leaves every size and call cost to CEL's defaults (unknown
// sizes are unbounded).
type noEstimates struct{}

func (noEstimates) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
func (noEstimates) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// messageDescriptor is the Protobuf message a Set's default path names.
func (s *Set) messageDescriptor(path []int) (protoreflect.MessageDescriptor, error) {
	return s.proto.MessageByIndexes(path)
}
