package rules

import (
	"errors"
	"fmt"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/serde/protobuf"
)

// TypeProtovalidate is the rule type refusals of buf.validate annotations
// carry: `rule "string.email" (buf.validate) failed: email: …`.
const TypeProtovalidate = "buf.validate"

// Protovalidator checks Protobuf records against the buf.validate
// annotations (protovalidate) of their schema: an implicit rule set, opt-in
// per topic. The schema imports buf/validate/validate.proto like any other
// file (as a reference); the annotations are read from the compiled
// descriptors, and the validator compiles each message's rules once, on
// first use. It is safe for concurrent use.
type Protovalidator struct {
	schema *protobuf.Schema
	v      protovalidate.Validator
}

// NewProtovalidator returns the validator of a Protobuf schema.
func NewProtovalidator(s *protobuf.Schema) (*Protovalidator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("rules: protovalidate: %v", err)
	}
	return &Protovalidator{schema: s, v: v}, nil
}

// Check validates one datum (the bytes after the envelope; path is its
// message-index path). The first violation is the Failure (action ERROR);
// annotations that do not compile, or fail at run time, refuse with their
// error too. A datum that is not a message of the schema is an error.
func (p *Protovalidator) Check(path []int, datum []byte) (f *Failure, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("rules: protovalidate failed: %v", r)
		}
	}()
	md, err := p.schema.MessageByIndexes(path)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Merge: true, AllowPartial: true}).Unmarshal(datum, m); err != nil {
		return nil, fmt.Errorf("protobuf: %v", err)
	}
	verr := p.v.Validate(m)
	if verr == nil {
		return nil, nil
	}
	var ve *protovalidate.ValidationError
	if errors.As(verr, &ve) && len(ve.Violations) > 0 {
		v := ve.Violations[0].Proto
		reason := v.GetMessage()
		if fp := fieldPath(ve.Violations[0]); fp != "" {
			reason = fp + ": " + reason
		}
		if n := len(ve.Violations); n > 1 {
			reason += fmt.Sprintf(" (and %d more violations)", n-1)
		}
		return &Failure{Rule: v.GetRuleId(), Type: TypeProtovalidate, Action: ActionError, Reason: reason}, nil
	}
	return &Failure{Rule: "protovalidate", Type: TypeProtovalidate, Action: ActionError, Reason: verr.Error()}, nil
}

// fieldPath renders a violation's field path as `lines[1].sku`.
func fieldPath(v *protovalidate.Violation) string {
	var sb strings.Builder
	for _, e := range v.Proto.GetField().GetElements() {
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(e.GetFieldName())
		switch {
		case e.HasIndex():
			fmt.Fprintf(&sb, "[%d]", e.GetIndex())
		case e.HasStringKey():
			fmt.Fprintf(&sb, "[%q]", e.GetStringKey())
		case e.HasIntKey():
			fmt.Fprintf(&sb, "[%d]", e.GetIntKey())
		}
	}
	return sb.String()
}
