package rules

import (
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/uuid"
	hamba "github.com/hamba/avro/v2"
)

// builtins declares the string checks Confluent's rule executor adds to CEL:
// isEmail, isHostname, isIpv4, isIpv6, isUri, isUriRef and isUuid.
func builtins() cel.EnvOption {
	check := func(name string, ok func(string) bool) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("string_"+name, []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, isStr := v.Value().(string)
				if !isStr {
					return types.NewErr("%s: not a string", name)
				}
				return types.Bool(ok(s))
			})))
	}
	return cel.Lib(lib{opts: []cel.EnvOption{
		check("isEmail", isEmail),
		check("isHostname", isHostname),
		check("isIpv4", func(s string) bool {
			ip := net.ParseIP(s)
			return ip != nil && ip.To4() != nil && !strings.Contains(s, ":")
		}),
		check("isIpv6", func(s string) bool { ip := net.ParseIP(s); return ip != nil && strings.Contains(s, ":") }),
		check("isUri", func(s string) bool { u, err := url.Parse(s); return err == nil && u.IsAbs() }),
		check("isUriRef", func(s string) bool { _, err := url.Parse(s); return err == nil }),
		check("isUuid", func(s string) bool { _, err := uuid.Parse(s); return err == nil && len(s) == 36 }),
	}})
}

type lib struct{ opts []cel.EnvOption }

func (l lib) CompileOptions() []cel.EnvOption     { return l.opts }
func (l lib) ProgramOptions() []cel.ProgramOption { return nil }

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

var hostnameRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

func isHostname(s string) bool { return len(s) <= 253 && hostnameRE.MatchString(s) }

// checkSelections refuses, for Avro, a selection on `message` that names
// no field of the schema (`message.totl` where the record has `total`).
// CEL sees an Avro record as dynamic, so its checker cannot. JSON Schema
// objects accept members the schema does not list, so JSON is not checked;
// Protobuf messages are typed and CEL's checker covers them.
func checkSelections(a *cel.Ast, s *Set) error {
	if s.avro == nil {
		return nil
	}
	var firstErr error
	ast.PreOrderVisit(a.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if firstErr != nil || e.Kind() != ast.SelectKind {
			return
		}
		var names []string
		cur := e
		for cur.Kind() == ast.SelectKind {
			names = append(names, cur.AsSelect().FieldName())
			cur = cur.AsSelect().Operand()
		}
		if cur.Kind() != ast.IdentKind || cur.AsIdent() != "message" {
			return
		}
		for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
			names[i], names[j] = names[j], names[i]
		}
		firstErr = avroPath(s.avro, names)
	}))
	return firstErr
}

// avroPath checks that the field names select fields down from s.
func avroPath(s hamba.Schema, names []string) error {
	at := "message"
	for _, n := range names {
		var recs []*hamba.RecordSchema
		isMap := false
		var walk func(hamba.Schema)
		walk = func(t hamba.Schema) {
			switch t.Type() {
			case hamba.Ref:
				walk(t.(*hamba.RefSchema).Schema())
			case hamba.Union:
				for _, b := range t.(*hamba.UnionSchema).Types() {
					walk(b)
				}
			case hamba.Record, hamba.Error:
				recs = append(recs, t.(*hamba.RecordSchema))
			case hamba.Map:
				isMap = true
			}
		}
		walk(s)
		if isMap {
			return nil // map keys are data
		}
		if len(recs) == 0 {
			return &selectionError{at: at, field: n, what: "is not a record"}
		}
		var next hamba.Schema
		for _, r := range recs {
			for _, f := range r.Fields() {
				if f.Name() == n {
					next = f.Type()
				}
			}
		}
		if next == nil {
			names := make([]string, 0, len(recs[0].Fields()))
			for _, f := range recs[0].Fields() {
				names = append(names, f.Name())
			}
			return &selectionError{at: at, field: n, what: "has no such field (record " + recs[0].FullName() + " has " + strings.Join(names, ", ") + ")"}
		}
		s = next
		at += "." + n
	}
	return nil
}

type selectionError struct{ at, field, what string }

func (e *selectionError) Error() string {
	if e.what == "is not a record" {
		return "undefined field '" + e.field + "': " + e.at + " is not a record"
	}
	return "undefined field '" + e.field + "': " + e.at + " " + e.what
}
