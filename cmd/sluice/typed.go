package main

// Typed records for produce and consume: values typed as JSON, encoded
// through a registered schema with the Confluent envelope
// (spec/wire-format.md §2.1), and records decoded back to JSON with the
// writer schema's subject and version. The formats' own packages do the
// work: serde/avro (Avro's JSON encoding), protojson over dynamicpb with
// serde/protobuf, and serde/jsonschema's validator.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// typedFlags are produce's --<side>-schema-id, --<side>-subject,
// --<side>-version and --<side>-message.
type typedFlags struct {
	side    serde.Side
	id      int
	subject string
	version string
	message string
}

func (f *typedFlags) register(fs *flag.FlagSet, side serde.Side) {
	f.side = side
	s := side.String()
	fs.IntVar(&f.id, s+"-schema-id", 0, "encode each "+s+", given as JSON, with the registered schema of this `id`")
	fs.StringVar(&f.subject, s+"-subject", "", "encode each "+s+", given as JSON, with a version of this `subject`")
	fs.StringVar(&f.version, s+"-version", "", "with --"+s+"-subject: the `version` (default latest)")
	fs.StringVar(&f.message, s+"-message", "", "Protobuf "+s+"s: the message's full `name` (default the first message of the schema)")
}

// set reports whether any of the side's flags was given.
func (f *typedFlags) set() bool {
	return f.id != 0 || f.subject != "" || f.version != "" || f.message != ""
}

// validate checks the combination of the side's flags.
func (f *typedFlags) validate() error {
	s := f.side.String()
	switch {
	case f.id != 0 && f.subject != "":
		return fmt.Errorf("give --%s-schema-id or --%s-subject, not both", s, s)
	case f.id < 0:
		return fmt.Errorf("--%s-schema-id %d: want a positive schema id", s, f.id)
	case f.id == 0 && f.subject == "":
		return fmt.Errorf("--%s-version and --%s-message need --%s-schema-id or --%s-subject", s, s, s, s)
	case f.version != "" && f.subject == "":
		return fmt.Errorf("--%s-version needs --%s-subject (an id names one schema already)", s, s)
	}
	if f.version != "" && f.version != "latest" {
		if n, err := strconv.Atoi(f.version); err != nil || n < 1 {
			return fmt.Errorf("--%s-version %q: want a positive number or latest", s, f.version)
		}
	}
	return nil
}

// typedCodec encodes one side's JSON through one registered schema.
type typedCodec struct {
	side    serde.Side
	id      int32
	subject string // empty when the schema was named by id
	version int
	typ     string // AVRO, PROTOBUF or JSON

	avro  *avro.Schema
	proto protoreflect.MessageDescriptor
	path  []int
	json  *jsonschema.Schema
}

// resolve fetches the schema the flags name (with its references) and
// prepares its codec.
func (f *typedFlags) resolve(ctx context.Context, r *srReader) (*typedCodec, error) {
	var s *srSchema
	if f.id != 0 {
		s = &srSchema{}
		if err := r.c.do(ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(f.id), nil, nil, s); err != nil {
			return nil, fmt.Errorf("--%s-schema-id %d: %w", f.side, f.id, err)
		}
		s.ID = f.id
	} else {
		v := f.version
		if v == "" {
			v = "latest"
		}
		var err error
		if s, err = r.version(ctx, f.subject, v); err != nil {
			return nil, fmt.Errorf("--%s-subject %s: %w", f.side, f.subject, err)
		}
	}
	return newTypedCodec(ctx, r, f.side, s, f.message)
}

// newTypedCodec parses s and prepares the codec of its message (Protobuf:
// the message named, else the first).
func newTypedCodec(ctx context.Context, r *srReader, side serde.Side, s *srSchema, message string) (*typedCodec, error) {
	what := fmt.Sprintf("schema id %d", s.ID)
	if s.Subject != "" {
		what = fmt.Sprintf("%s version %d (schema id %d)", s.Subject, s.Version, s.ID)
	}
	refs, err := r.references(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	c := &typedCodec{side: side, id: int32(s.ID), subject: s.Subject, version: s.Version, typ: s.typeName()}
	if message != "" && c.typ != "PROTOBUF" {
		return nil, fmt.Errorf("--%s-message names a Protobuf message, but %s is %s", side, what, c.typ)
	}
	switch c.typ {
	case "AVRO":
		c.avro, err = avro.Parse(s.Schema, refs)
	case "PROTOBUF":
		var ps *protobuf.Schema
		if ps, err = protobuf.Parse(s.Schema, refs); err != nil {
			break
		}
		c.path = []int{0}
		if message != "" {
			if c.path, err = ps.IndexesOf(message); err != nil {
				return nil, fmt.Errorf("--%s-message: %s: %w", side, what, err)
			}
		}
		c.proto, err = ps.MessageByIndexes(c.path)
	case "JSON":
		c.json, err = jsonschema.Parse(s.Schema, refs)
	default:
		err = fmt.Errorf("unknown schema type %q", c.typ)
	}
	if err != nil {
		return nil, fmt.Errorf("%s does not parse here: %w", what, err)
	}
	return c, nil
}

// encode returns the record bytes of doc, one JSON value: the envelope
// (magic byte, schema id, Protobuf message-index path), then the datum.
// Errors name the field ("field "total": expected long, got string").
func (c *typedCodec) encode(doc []byte) ([]byte, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errors.New("empty: want a JSON value")
	}
	b := serde.AppendPrefix(make([]byte, 0, 16+len(doc)), c.id)
	switch {
	case c.avro != nil:
		out, err := c.avro.AppendEncodeJSON(b, doc)
		if err != nil {
			return nil, fieldError(err)
		}
		return out, nil
	case c.proto != nil:
		m := dynamicpb.NewMessage(c.proto)
		if err := protojson.Unmarshal(doc, m); err != nil {
			// protojson names the field and position ("(line 1:10):
			// invalid value for int64 field total: "x""); drop its
			// package prefix.
			return nil, fmt.Errorf("%s: %s", c.proto.FullName(), strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
		}
		b = serde.AppendIndexes(b, c.path)
		// Deterministic: dynamic messages otherwise write their fields in
		// map order; this writes them by number, as generated code does.
		out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.proto.FullName(), err)
		}
		return out, nil
	default:
		if err := c.json.Validate(doc); err != nil {
			return nil, fieldError(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, doc); err != nil {
			return nil, err
		}
		return append(b, buf.Bytes()...), nil
	}
}

// fieldError words a datum or validation error by the field it is about
// (recordjson.FieldError).
func fieldError(err error) error { return recordjson.FieldError(err) }
