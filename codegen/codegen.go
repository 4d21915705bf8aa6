// Package codegen turns schemas into Go bindings for the typed clients: per
// topic (or per Protobuf message), the Go type, a codec carrying the schema
// text and its references, the topic binding, and the constructors
// NewXProducer / NewXConsumer over client.Producer and client.Consumer.
//
// Two front doors use it: `sluice gen`, from a sluice.yaml manifest
// (FromManifest), and protoc-gen-sluice-go, a protoc/buf plugin
// (GenerateProto) writing beside protoc-gen-go's output. Avro records become
// structs with `avro` tags, JSON Schema objects structs with `json` tags;
// Protobuf messages are protoc-gen-go's types, referenced, never
// regenerated.
//
// A manifest topic whose values are of several event types (value.schemas,
// each under its own record or topic_record subject) gets a codec and a
// producer per event type, one consumer reading them through a
// client.Union, and a <Topic>Handlers struct with one function per event
// type whose Handler dispatches exhaustively, as the Protobuf oneof
// envelopes of protoc-gen-sluice-go do.
//
// Generated code is wiring only: every behaviour lives in package client and
// is tested there once. Files start with the "Code generated ... DO NOT
// EDIT." line, are gofmt-clean, and pin the runtime with
// client.SupportPackageIsVersion1.
package codegen

import (
	"bytes"
	"fmt"
	"go/format"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/serde"
)

// Import paths of the runtime, used by generated code.
const (
	clientPkg     = "github.com/sluicehq/sluice/client"
	avroPkg       = "github.com/sluicehq/sluice/client/avro"
	jsonPkg       = "github.com/sluicehq/sluice/client/jsonschema"
	protobufPkg   = "github.com/sluicehq/sluice/client/protobuf"
	primitivePkg  = "github.com/sluicehq/sluice/client/primitive"
	serdePkg      = "github.com/sluicehq/sluice/serde"
	contextPkg    = "context"
	versionSymbol = "SupportPackageIsVersion1"
)

// Config configures FromManifest.
type Config struct {
	// Package is the Go package name of the generated file. Required.
	Package string
	// Source names the input in the file's first line ("sluice.yaml").
	Source string
	// ProtoGoPackages maps a .proto file's path (as the manifest's Set
	// names it) to the Go import path of its protoc-gen-go package,
	// overriding the file's go_package option.
	ProtoGoPackages map[string]string
}

// File is one generated Go file.
type File struct {
	// Name is the file name, relative to the output folder.
	Name    string
	Content []byte
}

// emitter accumulates one Go file: imports, declarations, and the named
// types and schema texts already emitted.
type emitter struct {
	pkg     string
	imports map[string]string // path -> name
	names   map[string]bool   // every package-level identifier taken
	body    bytes.Buffer
	types   bytes.Buffer
	schemas bytes.Buffer

	fileVars  map[string]string // schema file -> var of its *client.Schema
	typeNames map[string]string // schema type identity -> Go type name
}

func newEmitter(pkg string) *emitter {
	return &emitter{
		pkg: pkg, imports: map[string]string{}, names: map[string]bool{},
		fileVars: map[string]string{}, typeNames: map[string]string{},
	}
}

// use imports path and returns the name to qualify its identifiers with.
func (e *emitter) use(importPath string) string {
	if n, ok := e.imports[importPath]; ok {
		return n
	}
	base := path.Base(importPath)
	if i := strings.LastIndex(importPath, ";"); i >= 0 {
		base = importPath[i+1:]
	}
	name := sanitizeIdent(base)
	taken := func(n string) bool {
		for _, v := range e.imports {
			if v == n {
				return true
			}
		}
		return false
	}
	for i := 2; taken(name); i++ {
		name = sanitizeIdent(base) + strconv.Itoa(i)
	}
	e.imports[importPath] = name
	return name
}

// claim reserves a package-level identifier, failing on a clash.
func (e *emitter) claim(name, what string) error {
	if e.names[name] {
		return fmt.Errorf("two declarations would be named %s (%s); rename a topic or a type", name, what)
	}
	e.names[name] = true
	return nil
}

func (e *emitter) printf(format string, args ...any) { fmt.Fprintf(&e.body, format, args...) }

// render assembles and gofmts the file.
func (e *emitter) render(header string) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString(header)
	fmt.Fprintf(&out, "\npackage %s\n\n", e.pkg)
	paths := make([]string, 0, len(e.imports))
	for p := range e.imports {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		si, sj := !strings.Contains(paths[i], "."), !strings.Contains(paths[j], ".")
		if si != sj {
			return si
		}
		return paths[i] < paths[j]
	})
	out.WriteString("import (\n")
	std := true
	for _, p := range paths {
		if std && strings.Contains(p, ".") {
			std = false
			out.WriteString("\n")
		}
		name := e.imports[p]
		if name == path.Base(p) {
			fmt.Fprintf(&out, "\t%q\n", p)
		} else {
			fmt.Fprintf(&out, "\t%s %q\n", name, p)
		}
	}
	out.WriteString(")\n\n")
	fmt.Fprintf(&out, "// This file needs the client runtime it was generated for.\nconst _ = %s.%s\n\n", e.use(clientPkg), versionSymbol)
	out.Write(e.body.Bytes())
	out.Write(e.types.Bytes())
	out.Write(e.schemas.Bytes())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generated code does not parse (a codegen bug): %w\n%s", err, out.Bytes())
	}
	return src, nil
}

// FromManifest generates the bindings of every topic of a resolved
// manifest as one file, sluice_gen.go: per topic its name constant, the
// key and value codecs, the Go types of their schemas, and
// New<Topic>Producer / New<Topic>Consumer.
func FromManifest(set *manifest.Set, cfg Config) (*File, error) {
	if cfg.Package == "" {
		return nil, fmt.Errorf("codegen: no Go package name")
	}
	if !isIdent(cfg.Package) {
		return nil, fmt.Errorf("codegen: package name %q is not a Go identifier", cfg.Package)
	}
	e := newEmitter(cfg.Package)
	g := &manifestGen{e: e, set: set, cfg: cfg, protoPkgNames: map[string]string{}}
	for _, t := range set.Manifest.Topics {
		if err := g.topic(t); err != nil {
			return nil, fmt.Errorf("codegen: topic %s (%s): %w", t.Name, t.Pos, err)
		}
	}
	source := cfg.Source
	if source == "" {
		source = set.Manifest.File
	}
	src, err := e.render(fmt.Sprintf("// Code generated by sluice gen from %s. DO NOT EDIT.\n", source))
	if err != nil {
		return nil, fmt.Errorf("codegen: %w", err)
	}
	return &File{Name: "sluice_gen.go", Content: src}, nil
}

type manifestGen struct {
	e   *emitter
	set *manifest.Set
	cfg Config
	// protoPkgNames maps the import paths of protoc-gen-go packages to
	// their package names.
	protoPkgNames map[string]string
}

// side is what a topic's key or value becomes in Go.
type side struct {
	goType string // the Go type of values
	codec  string // an expression of type client.Codec[goType]
	desc   string // a phrase for doc comments
	decl   string // the codec's declaration, if it has one
	// envelope is a Protobuf value message with a oneof of event types.
	envelope *protogen.Message
	// subject is the subject the schema is registered under.
	subject string
}

func (g *manifestGen) topic(t manifest.Topic) error {
	e := g.e
	name := exportName(t.Name)
	if name == "" {
		return fmt.Errorf("no Go identifier can be made of the topic name")
	}
	for _, n := range []string{name + "Topic", "New" + name + "Producer", "New" + name + "Consumer"} {
		if err := e.claim(n, "topic "+t.Name); err != nil {
			return err
		}
	}
	key, err := g.side(t, serde.Key, t.Key, name, "")
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if t.Multi() {
		return g.multiTopic(t, name, key)
	}
	value, err := g.side(t, serde.Value, t.Value, name, "")
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	c, ctx, sd := e.use(clientPkg), e.use(contextPkg), e.use(serdePkg)
	keyStrategy, strategyConst := strategyName(t.SideStrategy(serde.Key)), strategyName(t.SideStrategy(serde.Value))
	e.printf("// %sTopic is the topic %q: keys %s, values %s.\n", name, t.Name, key.desc, value.desc)
	e.printf("const %sTopic = %q\n\n", name, t.Name)
	e.printf("%s%s", key.decl, value.decl)
	e.printf("// New%sProducer returns a producer of topic %s. It resolves the schema ids\n", name, t.Name)
	e.printf("// now (pass client.AutoRegister() to register them) and fails if the\n// registry refuses the schemas, listing every violation.\n")
	e.printf("func New%sProducer(ctx %s.Context, conn *%s.Conn, opts ...%s.ProducerOption) (*%s.Producer[%s, %s], error) {\n", name, ctx, c, c, c, key.goType, value.goType)
	e.printf("\topts = append([]%s.ProducerOption{%s.KeyStrategy(%s.%s), %s.ValueStrategy(%s.%s)}, opts...)\n", c, c, sd, keyStrategy, c, sd, strategyConst)
	e.printf("\treturn %s.NewProducer(ctx, conn, %sTopic, %s, %s, opts...)\n}\n\n", c, name, key.codec, value.codec)
	e.printf("// New%sConsumer returns a consumer of topic %s, a member of group\n// (\"\" for a standalone consumer).\n", name, t.Name)
	e.printf("func New%sConsumer(conn *%s.Conn, group string, opts ...%s.ConsumerOption) (*%s.Consumer[%s, %s], error) {\n", name, c, c, c, key.goType, value.goType)
	e.printf("\topts = append([]%s.ConsumerOption{%s.Group(group), %s.ConsumerKeyStrategy(%s.%s), %s.ConsumerValueStrategy(%s.%s)}, opts...)\n", c, c, c, sd, keyStrategy, c, sd, strategyConst)
	e.printf("\treturn %s.NewConsumer(conn, %sTopic, %s, %s, opts...)\n}\n\n", c, name, key.codec, value.codec)
	if value.envelope != nil {
		if oneof := envelopeOneof(value.envelope); oneof != nil {
			if err := e.claim(name+"Handlers", "topic "+t.Name); err != nil {
				return err
			}
			e.printf("%s\n", handlersSource(handlerNames{
				typeName: name, topic: t.Name, keyType: key.goType, valueType: value.goType, ctx: ctx + ".Context",
				client: func(n string) string { return c + "." + n },
				qualify: func(id protogen.GoIdent) string {
					return e.useNamed(string(id.GoImportPath), g.protoPkgNames[string(id.GoImportPath)]) + "." + id.GoName
				},
			}, value.envelope, oneof))
		}
	}
	return nil
}

// multiTopic emits a topic whose values are of several event types, each
// under its own subject: per event type its codec and a producer
// (New<Topic><Event>Producer), then one consumer reading every event type
// into an any (a client.Union), and <Topic>Handlers, a struct with one
// function per event type whose Handler dispatches each record to its
// type's function, failing at start-up if one is missing.
func (g *manifestGen) multiTopic(t manifest.Topic, name string, key side) error {
	e := g.e
	c, ctx, sd := e.use(clientPkg), e.use(contextPkg), e.use(serdePkg)
	keyStrategy, valueStrategy := strategyName(t.SideStrategy(serde.Key)), strategyName(t.SideStrategy(serde.Value))
	type event struct {
		field string // the handler field and name part: the record's short name
		side
	}
	var events []event
	for _, s := range t.Values {
		sub := g.subject(t.Name, serde.Value, s)
		if sub == nil {
			return fmt.Errorf("value %s: the manifest resolved no subject for it", s.File)
		}
		record := sub.Name
		if t.SideStrategy(serde.Value) == serde.TopicRecordName {
			record = strings.TrimPrefix(record, t.Name+"-")
		}
		field := exportName(record[strings.LastIndex(record, ".")+1:])
		if field == "" || field == "Unknown" {
			return fmt.Errorf("value %s: record %s makes no usable Go name", s.File, record)
		}
		for _, n := range []string{"New" + name + field + "Producer"} {
			if err := e.claim(n, "topic "+t.Name); err != nil {
				return err
			}
		}
		v, err := g.side(t, serde.Value, s, name, name+field)
		if err != nil {
			return fmt.Errorf("value %s: %w", s.File, err)
		}
		events = append(events, event{field: field, side: v})
	}
	if err := e.claim(name+"Handlers", "topic "+t.Name); err != nil {
		return err
	}
	var descs []string
	for _, ev := range events {
		descs = append(descs, ev.desc)
	}
	e.printf("// %sTopic is the topic %q: keys %s, values of %d event types, each\n// under its own subject: %s.\n", name, t.Name, key.desc, len(events), strings.Join(descs, ", "))
	e.printf("const %sTopic = %q\n\n", name, t.Name)
	e.printf("%s", key.decl)
	for _, ev := range events {
		e.printf("%s", ev.decl)
		e.printf("// New%s%sProducer returns a producer of the %s events of topic %s\n// (subject %s). It resolves the schema ids now (pass\n// client.AutoRegister() to register them) and fails if the registry\n// refuses the schemas, listing every violation.\n", name, ev.field, ev.field, t.Name, ev.subject)
		e.printf("func New%s%sProducer(ctx %s.Context, conn *%s.Conn, opts ...%s.ProducerOption) (*%s.Producer[%s, %s], error) {\n", name, ev.field, ctx, c, c, c, key.goType, ev.goType)
		e.printf("\topts = append([]%s.ProducerOption{%s.KeyStrategy(%s.%s), %s.ValueStrategy(%s.%s)}, opts...)\n", c, c, sd, keyStrategy, c, sd, valueStrategy)
		e.printf("\treturn %s.NewProducer(ctx, conn, %sTopic, %s, %s, opts...)\n}\n\n", c, name, key.codec, ev.codec)
	}
	e.printf("// New%sConsumer returns a consumer of topic %s, a member of group\n// (\"\" for a standalone consumer). Each value is the event type its\n// writer schema names (", name, t.Name)
	for i, ev := range events {
		if i > 0 {
			e.printf(", ")
		}
		e.printf("%s", ev.goType)
	}
	e.printf("), held in an any;\n// %sHandlers dispatches them.\n", name)
	e.printf("func New%sConsumer(conn *%s.Conn, group string, opts ...%s.ConsumerOption) (*%s.Consumer[%s, any], error) {\n", name, c, c, c, key.goType)
	e.printf("\tvalues, err := %s.NewUnion(\n", c)
	for _, ev := range events {
		e.printf("\t\t%s.Event[%s](%s),\n", c, ev.goType, ev.codec)
	}
	e.printf("\t)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n")
	e.printf("\topts = append([]%s.ConsumerOption{%s.Group(group), %s.ConsumerKeyStrategy(%s.%s), %s.ConsumerValueStrategy(%s.%s)}, opts...)\n", c, c, c, sd, keyStrategy, c, sd, valueStrategy)
	e.printf("\treturn %s.NewConsumer(conn, %sTopic, %s, %s.Codec[any](values), opts...)\n}\n\n", c, name, key.codec, c)

	msgType := c + ".Message[" + key.goType + ", any]"
	e.printf("// %sHandlers has one function per event type of topic %s. Every\n// function must be set.\n", name, t.Name)
	e.printf("type %sHandlers struct {\n", name)
	for _, ev := range events {
		e.printf("\t// %s handles records of subject %s.\n", ev.field, ev.subject)
		e.printf("\t%s func(ctx %s.Context, msg %s, event %s) error\n", ev.field, ctx, msgType, ev.goType)
	}
	e.printf("\t// Unknown, optional, handles records whose value is none of these\n\t// types (a null value); nil refuses them.\n")
	e.printf("\tUnknown func(ctx %s.Context, msg %s) error\n}\n\n", ctx, msgType)
	e.printf("// Handler returns the handler for Consumer.Run that calls the function of\n// each record's event type. It fails naming every function not set.\n")
	e.printf("func (h %sHandlers) Handler() (func(%s.Context, %s) error, error) {\n", name, ctx, msgType)
	e.printf("\tif err := %s.RequireHandlers(%q,\n", c, name+"Handlers")
	for _, ev := range events {
		e.printf("\t\t%s.HandlerSlot{Name: %q, Set: h.%s != nil},\n", c, ev.field, ev.field)
	}
	e.printf("\t); err != nil {\n\t\treturn nil, err\n\t}\n")
	e.printf("\treturn func(ctx %s.Context, msg %s) error {\n\t\tswitch ev := msg.Value.(type) {\n", ctx, msgType)
	for _, ev := range events {
		e.printf("\t\tcase %s:\n\t\t\treturn h.%s(ctx, msg, ev)\n", ev.goType, ev.field)
	}
	e.printf("\t\t}\n\t\tif h.Unknown != nil {\n\t\t\treturn h.Unknown(ctx, msg)\n\t\t}\n")
	e.printf("\t\treturn &%s.UnknownEventError{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset, Field: %q}\n\t}, nil\n}\n\n", c, "value of topic "+t.Name)
	return nil
}

// primitives are the Avro primitives a manifest side may name, with their
// Go type and codec constructor in client/primitive.
var primitives = map[string][2]string{
	"string":  {"string", "String"},
	"long":    {"int64", "Int64"},
	"int":     {"int32", "Int32"},
	"double":  {"float64", "Float64"},
	"boolean": {"bool", "Bool"},
	"bytes":   {"[]byte", "Bytes"},
}

// strategyName is the serde constant of a strategy.
func strategyName(st serde.Strategy) string {
	return map[serde.Strategy]string{serde.TopicName: "TopicName", serde.RecordName: "RecordName", serde.TopicRecordName: "TopicRecordName"}[st]
}

// side emits the codec of one schema of a topic's side. prefix names its
// declarations: "" for a side with one schema (<Topic><Side>Codec, the Go
// type of a JSON Schema without title <Topic><Side>); an event type of a
// multi-event topic passes <Topic><Event>.
func (g *manifestGen) side(t manifest.Topic, sd serde.Side, s *manifest.Schema, topicName, prefix string) (side, error) {
	e := g.e
	if s == nil {
		return side{goType: "struct{}", codec: e.use(primitivePkg) + ".Null()", desc: "absent"}, nil
	}
	if s.Primitive != "" {
		p, ok := primitives[s.Primitive]
		if !ok {
			return side{}, fmt.Errorf("primitive %q has no client codec (have string, long, int, double, boolean, bytes)", s.Primitive)
		}
		return side{goType: p[0], codec: e.use(primitivePkg) + "." + p[1] + "()", desc: "Avro " + s.Primitive}, nil
	}
	sub := g.subject(t.Name, sd, s)
	if sub == nil {
		return side{}, fmt.Errorf("the manifest resolved no subject for it")
	}
	if prefix == "" {
		prefix = topicName + titleCase(sd.String())
	}
	codecVar := prefix + "Codec"
	if err := e.claim(codecVar, "topic "+t.Name); err != nil {
		return side{}, err
	}
	var goType, ctor, desc string
	var msg *protogen.Message
	var err error
	switch sub.Format {
	case serde.Avro:
		goType, err = g.avroType(sub)
		ctor = e.use(avroPkg) + ".Must[" + goType + "]"
		desc = "Avro " + goType
	case serde.JSON:
		goType, err = g.jsonType(sub, prefix)
		ctor = e.use(jsonPkg) + ".Must[" + goType + "]"
		desc = "JSON Schema " + goType
	case serde.Protobuf:
		goType, msg, err = g.protoType(sub)
		ctor = e.use(protobufPkg) + ".Must[" + goType + "]"
		desc = "Protobuf " + strings.TrimPrefix(goType, "*")
	default:
		err = fmt.Errorf("unknown format %q", sub.Format)
	}
	if err != nil {
		return side{}, err
	}
	schemaVar, err := g.fileSchema(sub.File)
	if err != nil {
		return side{}, err
	}
	c := e.use(clientPkg)
	var decl strings.Builder
	fmt.Fprintf(&decl, "// %s is the codec of the %ss of topic %s, schema %s.\n", codecVar, sd, t.Name, sub.File)
	if sub.Format == serde.Protobuf {
		pb := e.use(protobufPkg)
		fmt.Fprintf(&decl, "var %s %s.Codec[%s] = %s(%s.WithSource(%s.Text), %s.WithReferences(%s.References...))\n\n", codecVar, c, goType, ctor, pb, schemaVar, pb, schemaVar)
	} else {
		fmt.Fprintf(&decl, "var %s %s.Codec[%s] = %s(%s.Text, %s.References...)\n\n", codecVar, c, goType, ctor, schemaVar, schemaVar)
	}
	return side{goType: goType, codec: codecVar, desc: desc, decl: decl.String(), envelope: msg, subject: sub.Name}, nil
}

// subject finds the subject the manifest resolved for schema s of a side.
func (g *manifestGen) subject(topic string, sd serde.Side, s *manifest.Schema) *manifest.Subject {
	file := g.set.Manifest.Path(s.File)
	for _, sub := range g.set.Subjects {
		if sub.Topic == topic && sub.Side == sd && sub.File == file && sub.Record == s.Record {
			return sub
		}
	}
	return nil
}

// fileSchema emits (once) the *client.Schema of a schema file and of every
// file it references, and returns its variable.
func (g *manifestGen) fileSchema(file string) (string, error) {
	e := g.e
	if v, ok := g.e.fileVars[file]; ok {
		return v, nil
	}
	f := g.set.Files[file]
	if f == nil {
		return "", fmt.Errorf("schema file %s was not loaded", file)
	}
	base := path.Base(file)
	v := lowerFirst(exportName(base)) + "Schema"
	for i := 2; e.names[v]; i++ {
		v = lowerFirst(exportName(base)) + "Schema" + strconv.Itoa(i)
	}
	e.names[v] = true
	e.fileVars[file] = v
	var refs []string
	c := e.use(clientPkg)
	for _, d := range f.Deps {
		rv, err := g.fileSchema(d.File)
		if err != nil {
			return "", err
		}
		refs = append(refs, fmt.Sprintf("{Name: %q, Subject: %q, Schema: %s}", d.Name, d.Subject, rv))
	}
	sd := e.use(serdePkg)
	format := map[serde.Format]string{serde.Avro: "Avro", serde.Protobuf: "Protobuf", serde.JSON: "JSON"}[f.Format]
	fmt.Fprintf(&e.schemas, "// %s is the schema file %s.\n", v, file)
	fmt.Fprintf(&e.schemas, "var %s = &%s.Schema{\n\tFormat: %s.%s,\n\tText: %s,\n", v, c, sd, format, goString(f.Text))
	if len(refs) > 0 {
		fmt.Fprintf(&e.schemas, "\tReferences: []%s.Reference{\n", c)
		for _, r := range refs {
			fmt.Fprintf(&e.schemas, "\t\t%s,\n", r)
		}
		e.schemas.WriteString("\t},\n")
	}
	e.schemas.WriteString("}\n\n")
	return v, nil
}

// goString renders s as a Go string literal: a raw string when it can be.
func goString(s string) string {
	if !strings.Contains(s, "`") && !strings.Contains(s, "\r") && utf8Printable(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

func utf8Printable(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || (r < ' ' && r != '\n' && r != '\t') || r == '\uFEFF' {
			return false
		}
	}
	return true
}

// initialisms are spelled in capitals in Go names, as golint wants.
var initialisms = map[string]string{
	"id": "ID", "url": "URL", "uri": "URI", "http": "HTTP", "json": "JSON", "uuid": "UUID",
	"api": "API", "ip": "IP", "sku": "SKU", "sql": "SQL", "utc": "UTC",
}

// exportName turns a schema or topic name into an exported Go identifier:
// words split at every character that is not a letter or digit and at
// lower-to-upper changes, each capitalised ("ship_to" -> "ShipTo",
// "orders.v1" -> "OrdersV1", "user_id" -> "UserID").
func exportName(s string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && prevLower {
				flush()
			}
			cur = append(cur, r)
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		default:
			flush()
			prevLower = false
		}
	}
	flush()
	var b strings.Builder
	for _, w := range words {
		if up, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(titleCase(w))
	}
	out := b.String()
	if out != "" && unicode.IsDigit(rune(out[0])) {
		out = "X" + out
	}
	return out
}

func titleCase(w string) string {
	if w == "" {
		return w
	}
	r := []rune(w)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// "IDSchema" -> "idSchema": lower the leading run of capitals.
	r := []rune(s)
	i := 0
	for i < len(r) && unicode.IsUpper(r[i]) {
		i++
	}
	if i > 1 && i < len(r) {
		i-- // keep the capital that starts the next word
	}
	for j := 0; j < i || j == 0; j++ {
		r[j] = unicode.ToLower(r[j])
	}
	return string(r)
}

func sanitizeIdent(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "x" + out
	}
	return out
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
}
