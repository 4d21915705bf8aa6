package recordjson

// Encoding is decoding's mirror: a key or value typed as JSON becomes the
// record bytes a registry-aware consumer reads, the envelope
// (spec/wire-format.md §2.1) and then the datum in the schema's format.
// `sluice produce --value-subject` and the console's produce form both
// encode through an Encoder.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Encoder encodes JSON documents through one registered schema: Avro's
// JSON encoding through serde/avro, protojson into a dynamic message of
// the Protobuf schema, and JSON Schema documents validated and compacted.
// It is safe for concurrent use.
type Encoder struct {
	id    int32
	avro  *avro.Schema
	proto protoreflect.MessageDescriptor
	path  []int // Protobuf message-index path
	json  *jsonschema.Schema
}

// ErrNotProtobuf is NewEncoder's error for a message name given with a
// schema of another format.
var ErrNotProtobuf = errors.New("a message name is for Protobuf schemas")

// MessageError is NewEncoder's error for a Protobuf message name the
// schema does not define.
type MessageError struct {
	// Name is the message name given.
	Name string
	// Err is the schema's reason.
	Err error
}

func (e *MessageError) Error() string { return "message " + e.Name + ": " + e.Err.Error() }

func (e *MessageError) Unwrap() error { return e.Err }

// NewEncoder returns an Encoder through s, registered as schema id. For a
// Protobuf schema, message is the full name of the message the documents
// are (empty: the schema's first message); for other formats it must be
// empty (ErrNotProtobuf).
func NewEncoder(id int32, s serde.Schema, message string) (*Encoder, error) {
	e := &Encoder{id: id}
	switch p := s.(type) {
	case *avro.Schema:
		e.avro = p
	case *jsonschema.Schema:
		e.json = p
	case *protobuf.Schema:
		e.path = []int{0}
		if message != "" {
			var err error
			if e.path, err = p.IndexesOf(message); err != nil {
				return nil, &MessageError{Name: message, Err: err}
			}
		}
		var err error
		if e.proto, err = p.MessageByIndexes(e.path); err != nil {
			return nil, err
		}
		return e, nil
	default:
		return nil, fmt.Errorf("recordjson: no JSON encoding of %T schemas", s)
	}
	if message != "" {
		return nil, ErrNotProtobuf
	}
	return e, nil
}

// Encode returns the record bytes of doc, one JSON value: the envelope
// (magic byte, schema id, Protobuf message-index path), then the datum.
// Errors name the field (`field "total": expected long, got string`).
func (e *Encoder) Encode(doc []byte) ([]byte, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errors.New("empty: want a JSON value")
	}
	b := serde.AppendPrefix(make([]byte, 0, 16+len(doc)), e.id)
	switch {
	case e.avro != nil:
		out, err := e.avro.AppendEncodeJSON(b, doc)
		if err != nil {
			return nil, FieldError(err)
		}
		return out, nil
	case e.proto != nil:
		m := dynamicpb.NewMessage(e.proto)
		if err := protojson.Unmarshal(doc, m); err != nil {
			// protojson names the field and position ("(line 1:10):
			// invalid value for int64 field total: "x""); drop its
			// package prefix.
			return nil, fmt.Errorf("%s: %s", e.proto.FullName(), strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
		}
		b = serde.AppendIndexes(b, e.path)
		// Deterministic: dynamic messages otherwise write their fields in
		// map order; this writes them by number, as generated code does.
		out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.proto.FullName(), err)
		}
		return out, nil
	default:
		if err := e.json.Validate(doc); err != nil {
			return nil, FieldError(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, doc); err != nil {
			return nil, err
		}
		return append(b, buf.Bytes()...), nil
	}
}
