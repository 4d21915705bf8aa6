// Package protobuf is the client codec for Protobuf values: the message
// types protoc-gen-go generates. The schema registered for a message is its
// .proto file: the source text when given (WithSource), otherwise the text
// rendered from the compiled descriptor; imported files become references
// (subject = import path), except the well-known files the registry bundles.
// Records written with another version of the file decode into the local
// type with the fields it does not know kept as unknown fields.
package protobuf

import (
	"encoding/base64"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
)

// Codec encodes and decodes messages of type T (a pointer to a generated
// message struct).
type Codec[T proto.Message] struct {
	schema *client.Schema
	name   protoreflect.FullName
	path   []int
	newMsg func() T
}

// Option configures a Codec.
type Option func(*options)

type options struct {
	source string
	refs   []client.Reference
	desc   protoreflect.MessageDescriptor
}

// WithSource registers text, the .proto file's source, instead of the text
// rendered from the descriptor (comments and layout are kept).
func WithSource(text string) Option { return func(o *options) { o.source = text } }

// WithReferences sets the references of the schema (each with its Schema)
// instead of deriving them from the file's imports, for imports registered
// under other subjects than their import paths (as sluice.yaml may say).
func WithReferences(refs ...client.Reference) Option {
	return func(o *options) { o.refs = refs }
}

// WithDescriptor makes a codec of dynamic messages (T *dynamicpb.Message)
// of the message md, for programs that learn their types at run time.
func WithDescriptor(md protoreflect.MessageDescriptor) Option {
	return func(o *options) { o.desc = md }
}

// New returns the codec of T.
func New[T proto.Message](opts ...Option) (*Codec[T], error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var zero T
	var md protoreflect.MessageDescriptor
	var newMsg func() T
	if o.desc != nil {
		if _, ok := any(zero).(*dynamicpb.Message); !ok {
			return nil, fmt.Errorf("protobuf codec: WithDescriptor needs T *dynamicpb.Message, not %T", zero)
		}
		md = o.desc
		newMsg = func() T { return any(dynamicpb.NewMessage(md)).(T) }
	} else {
		md = zero.ProtoReflect().Descriptor()
		newMsg = func() T { return zero.ProtoReflect().New().Interface().(T) }
	}
	fd := md.ParentFile()
	refs := o.refs
	if refs == nil {
		var err error
		if refs, err = fileReferences(fd, map[string]*client.Schema{}); err != nil {
			return nil, err
		}
	}
	text := o.source
	if text == "" {
		var err error
		if text, err = render(fd, refs); err != nil {
			return nil, err
		}
	}
	parsed, err := sproto.Parse(text, client.Flatten(refs))
	if err != nil {
		return nil, fmt.Errorf("protobuf codec %s: %w", md.FullName(), err)
	}
	path, err := parsed.IndexesOf(string(md.FullName()))
	if err != nil {
		return nil, fmt.Errorf("protobuf codec %s: %w", md.FullName(), err)
	}
	return &Codec[T]{
		schema: &client.Schema{Format: serde.Protobuf, Text: text, References: refs, RecordName: string(md.FullName())},
		name:   md.FullName(),
		path:   path,
		newMsg: newMsg,
	}, nil
}

// Must is New that panics on error, for generated code.
func Must[T proto.Message](opts ...Option) *Codec[T] {
	c, err := New[T](opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// render returns the .proto text of fd, printed by serde/protobuf from the
// serialized descriptor.
func render(fd protoreflect.FileDescriptor, refs []client.Reference) (string, error) {
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
	if err != nil {
		return "", fmt.Errorf("protobuf codec: %s: %w", fd.Path(), err)
	}
	s, err := sproto.Parse(base64.StdEncoding.EncodeToString(b), client.Flatten(refs))
	if err != nil {
		return "", fmt.Errorf("protobuf codec: %s: %w", fd.Path(), err)
	}
	return s.Canonical(), nil
}

// fileReferences returns the references of fd's imports, each rendered
// with its own references; done memoises files met twice.
func fileReferences(fd protoreflect.FileDescriptor, done map[string]*client.Schema) ([]client.Reference, error) {
	var refs []client.Reference
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		imp := imports.Get(i)
		if sproto.IsBundled(imp.Path()) {
			continue
		}
		s, ok := done[imp.Path()]
		if !ok {
			sub, err := fileReferences(imp.FileDescriptor, done)
			if err != nil {
				return nil, err
			}
			text, err := render(imp.FileDescriptor, sub)
			if err != nil {
				return nil, err
			}
			s = &client.Schema{Format: serde.Protobuf, Text: text, References: sub}
			done[imp.Path()] = s
		}
		refs = append(refs, client.Reference{Name: imp.Path(), Subject: imp.Path(), Schema: s})
	}
	return refs, nil
}

// Schema is the local schema.
func (c *Codec[T]) Schema() *client.Schema { return c.schema }

// AppendEncode appends the message-index path of T and the message.
func (c *Codec[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	dst = serde.AppendIndexes(dst, c.path)
	return sproto.AppendEncode(dst, v)
}

// Decoder returns a decoder of datums written with w. Each datum's
// message-index path must name, in w, a message of T's full name.
func (c *Codec[T]) Decoder(w *client.WriterSchema) (client.Decoder[T], error) {
	if w == nil || w.Format != serde.Protobuf {
		format := "schemaless"
		if w != nil {
			format = string(w.Format)
		}
		return nil, fmt.Errorf("protobuf codec %s: the record was written with a %s schema", c.name, format)
	}
	writer, err := sproto.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("protobuf codec %s: writer schema %d: %w", c.name, w.ID, err)
	}
	return func(b []byte, v *T) error {
		var arr [4]int
		path, rest, err := serde.ReadIndexes(arr[:0], b)
		if err != nil {
			return err
		}
		md, err := writer.MessageByIndexes(path)
		if err != nil {
			return err
		}
		if md.FullName() != c.name {
			return fmt.Errorf("the record holds a %s, this codec reads %s", md.FullName(), c.name)
		}
		m := c.newMsg()
		if err := proto.Unmarshal(rest, m); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		*v = m
		return nil
	}, nil
}

// RecordNames names the message each datum written with w holds, from its
// message-index path.
func (c *Codec[T]) RecordNames(w *client.WriterSchema) (func([]byte) (string, error), error) {
	writer, err := sproto.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("protobuf codec: writer schema %d: %w", w.ID, err)
	}
	return func(b []byte) (string, error) {
		var arr [4]int
		path, _, err := serde.ReadIndexes(arr[:0], b)
		if err != nil {
			return "", err
		}
		md, err := writer.MessageByIndexes(path)
		if err != nil {
			return "", err
		}
		return string(md.FullName()), nil
	}, nil
}
