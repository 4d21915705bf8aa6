package rules

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Failure is a rule whose outcome stops a record: its condition was false
// (or could not be evaluated) and onFailure is not NONE, or it held and
// onSuccess is not NONE.
type Failure struct {
	// Rule is the rule; RuleType is its type (CEL or CEL_FIELD).
	Rule string
	Type string
	// Action is what the broker does: ERROR (refuse), DLQ (divert) or any
	// other action name, which the broker treats as ERROR.
	Action string
	// DLQTopic is params["dlq.topic"], "" when absent.
	DLQTopic string
	// Reason says what failed, as `message.total > 0 is false`.
	Reason string
}

// Error is the refusal text after "record N: ".
func (f *Failure) Error() string {
	return fmt.Sprintf("rule %q (%s) failed: %s", f.Rule, f.Type, f.Reason)
}

// Check runs the produce-side rules over one datum (the bytes after the
// envelope; path is the Protobuf message-index path, nil otherwise). It
// returns the first rule whose action is not NONE, or nil when the record
// may be written. A datum that cannot be decoded is an error.
func (s *Set) Check(path []int, datum []byte) (f *Failure, err error) {
	if s.Empty() {
		return nil, nil
	}
	defer func() {
		// CEL and the decoders are written not to panic; a record must
		// never take the broker down if one does.
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("rules: evaluation failed: %v", p)
		}
	}()
	progs := s.programsFor(path)
	if progs.err != nil {
		return nil, progs.err
	}
	var msg any
	switch {
	case s.avro != nil:
		msg, err = decodeAvro(s.avro, datum, progs.need)
	case s.json != nil:
		msg, err = decodeJSON(datum)
	default:
		var md protoreflect.MessageDescriptor
		if md, err = s.messageDescriptor(path); err == nil {
			m := dynamicpb.NewMessage(md)
			part, _ := protoFilter(md, progs.need, datum)
			// The message is fresh (Merge skips a Reset) and was checked
			// against its schema (proto3 has no required fields; proto2's
			// are not a rule's business): no initialisation check.
			if err = (proto.UnmarshalOptions{Merge: true, AllowPartial: true}).Unmarshal(part, m); err != nil {
				err = fmt.Errorf("protobuf: %v", err)
			}
			msg = m
		}
	}
	if err != nil {
		return nil, err
	}
	for i := range progs.rules {
		cr := &progs.rules[i]
		var f *Failure
		if cr.rule.Type == TypeCELField {
			f = s.checkFields(cr, msg)
		} else {
			f = cr.outcome(cr.eval(&messageVars{msg: msg}))
		}
		if f != nil {
			return f, nil
		}
	}
	return nil, nil
}

// result is one evaluation: skipped by its guard, true, false, or failed.
type result struct {
	skipped bool
	ok      bool
	reason  string
}

// messageVars binds `message` alone, without a map per evaluation.
type messageVars struct{ msg any }

func (v *messageVars) ResolveName(name string) (any, bool) {
	if name == "message" {
		return v.msg, true
	}
	return nil, false
}

func (v *messageVars) Parent() interpreter.Activation { return nil }

// eval runs the guard and the body over vars (a map or an Activation).
func (cr *compiledRule) eval(vars any) result {
	if cr.guard != nil {
		v, _, err := cr.guard.Eval(vars)
		b, isBool := boolOf(v, err)
		if !isBool || !b {
			return result{skipped: true}
		}
	}
	v, _, err := cr.body.Eval(vars)
	if err != nil {
		return result{reason: err.Error()}
	}
	b, isBool := boolOf(v, nil)
	if !isBool {
		return result{reason: fmt.Sprintf("%s is a %s, not a bool", cr.bodyText, v.Type().TypeName())}
	}
	if !b {
		return result{reason: cr.bodyText + " is false"}
	}
	return result{ok: true}
}

func boolOf(v ref.Val, err error) (bool, bool) {
	if err != nil || v == nil {
		return false, false
	}
	if types.IsError(v) {
		return false, false
	}
	b, ok := v.Value().(bool)
	return b, ok
}

// outcome turns a result into a Failure when its action is not NONE.
func (cr *compiledRule) outcome(r result) *Failure {
	if r.skipped {
		return nil
	}
	action := cr.onFailure
	if r.ok {
		action = cr.onSuccess
	}
	if action == ActionNone {
		return nil
	}
	reason := r.reason
	if r.ok {
		reason = "the condition held and onSuccess is " + cr.onSuccess
	}
	return &Failure{Rule: cr.rule.Name, Type: cr.rule.Type, Action: action, DLQTopic: cr.rule.Params[DLQTopicParam], Reason: reason}
}

// errStop ends a field walk at the first failure.
var errStop = errors.New("stop")

// checkFields runs a CEL_FIELD rule over every field it selects: all
// primitive fields when the rule has no tags, else those sharing a tag.
func (s *Set) checkFields(cr *compiledRule, msg any) *Failure {
	var fail *Failure
	vars := map[string]any{"message": msg}
	visit := func(f *field) error {
		if len(cr.rule.Tags) > 0 && !intersects(cr.rule.Tags, f.tags) {
			return nil
		}
		vars["value"], vars["name"], vars["fullName"], vars["typeName"], vars["tags"] = f.value, f.name, f.fullName, f.typeName, f.tags
		r := cr.eval(vars)
		if !r.ok && !r.skipped {
			r.reason = "field " + f.fullName + ": " + r.reason
		}
		if fail = cr.outcome(r); fail != nil {
			return errStop
		}
		return nil
	}
	switch {
	case s.avro != nil:
		_ = walkAvro(s.avro, msg, s.tags, visit)
	case s.json != nil:
		_ = walkJSON(s.json.Document(), msg, "$", nil, s.tags, visit, 0)
	default:
		_ = walkProto(msg.(protoreflect.ProtoMessage).ProtoReflect(), s.tags, visit, 0)
	}
	return fail
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
