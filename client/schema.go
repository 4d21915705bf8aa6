package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/serde"
)

// Schema is the local schema of a Codec: what a producer looks up (or
// registers) and what a consumer reads into.
type Schema struct {
	// Format is the schema's format. The zero value means schemaless: the
	// side carries raw bytes with no envelope and no subject.
	Format serde.Format
	// Text is the schema text as registered.
	Text string
	// References are the schemas Text depends on.
	References []Reference
	// RecordName is the full name of the record (Avro), message (Protobuf)
	// or title (JSON Schema), which the record-based subject strategies use;
	// "" when the schema has none.
	RecordName string
}

// Reference is a schema that another depends on: the name the dependent
// schema uses for it (an Avro full name, a Protobuf import path, a JSON
// Schema $ref) and the subject and version it is registered under.
type Reference struct {
	Name    string
	Subject string
	// Version of the subject; 0 or -1 means the latest.
	Version int32
	// Schema is the referenced schema's own text and references. It is
	// needed to parse the dependent schema locally, and lets a producer
	// allowed to register do so for the reference first.
	Schema *Schema
}

// Flatten returns the texts of refs and of everything they reference, each
// once, dependencies before their dependents: the form the serde parsers
// take. References without a Schema are skipped.
func Flatten(refs []Reference) []serde.Referenced {
	var out []serde.Referenced
	seen := map[string]bool{}
	var walk func([]Reference)
	walk = func(rs []Reference) {
		for _, r := range rs {
			if r.Schema == nil || seen[r.Name] {
				continue
			}
			seen[r.Name] = true
			walk(r.Schema.References)
			out = append(out, serde.Referenced{Name: r.Name, Text: r.Schema.Text})
		}
	}
	walk(refs)
	return out
}

// WriterSchema is the schema a record was written with, fetched from the
// registry by the id in its envelope, with every reference's text.
type WriterSchema struct {
	ID     int32
	Format serde.Format
	Text   string
	// References are the texts of its references, flattened, dependencies
	// first (serde.Referenced's order).
	References []serde.Referenced
}

// Decoder decodes one datum (the bytes after the schema id; for Protobuf
// that starts with the message-index path) written with one writer schema
// into *v.
type Decoder[T any] func(datum []byte, v *T) error

// Codec converts values of T to and from the datum bytes of one local
// schema. The per-format packages implement it; generated code instantiates
// them. Implementations must be safe for concurrent use.
type Codec[T any] interface {
	// Schema is the local schema.
	Schema() *Schema
	// AppendEncode appends the datum of v (for Protobuf: the message-index
	// path, then the message) to dst. The envelope is the runtime's job.
	AppendEncode(dst []byte, v T) ([]byte, error)
	// Decoder returns the decoder of datums written with w (nil for a
	// schemaless codec). The runtime calls it once per writer schema id.
	Decoder(w *WriterSchema) (Decoder[T], error)
}

// NullableCodec is implemented by codecs whose values may be absent: a
// value for which IsNull answers true is sent as a null key or value (a
// tombstone), and a null read back decodes to the zero T.
type NullableCodec[T any] interface {
	IsNull(v T) bool
}

// Violation is one reason a schema is incompatible with a subject.
type Violation struct {
	// Path locates the difference in the schema, e.g. "/fields/2/type".
	Path string
	// Message says what is wrong there.
	Message string
	// Version is the subject version the schema was checked against.
	Version int32
}

// IncompatibleError is a local schema that the registry refuses for a
// subject, with every violation it reported.
type IncompatibleError struct {
	Subject       string
	Compatibility string
	Violations    []Violation
}

// Error lists the subject and every violation, one per line.
func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema is incompatible with subject %s", e.Subject)
	if e.Compatibility != "" {
		fmt.Fprintf(&b, " (%s)", e.Compatibility)
	}
	fmt.Fprintf(&b, ": %d violation(s)", len(e.Violations))
	for _, v := range e.Violations {
		b.WriteString("\n  ")
		if v.Version > 0 {
			fmt.Fprintf(&b, "version %d: ", v.Version)
		}
		if v.Path != "" {
			fmt.Fprintf(&b, "%s: ", v.Path)
		}
		b.WriteString(v.Message)
	}
	return b.String()
}

// NotRegisteredError is a local schema that is not a version of its subject,
// with a producer not allowed to register it.
type NotRegisteredError struct {
	Subject string
}

// Error names the subject and how to register.
func (e *NotRegisteredError) Error() string {
	return fmt.Sprintf("schema is not registered under subject %s (register it, e.g. with sluice apply, or build the producer with client.AutoRegister())", e.Subject)
}

// resolvedSchema is a local schema's identity under a subject.
type resolvedSchema struct {
	subject string
	id      int32
	version int32
}

func schemaType(f serde.Format) registryv1.SchemaType {
	switch f {
	case serde.Protobuf:
		return registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF
	case serde.JSON:
		return registryv1.SchemaType_SCHEMA_TYPE_JSON
	default:
		return registryv1.SchemaType_SCHEMA_TYPE_AVRO
	}
}

func formatOf(t registryv1.SchemaType) serde.Format {
	switch t {
	case registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF:
		return serde.Protobuf
	case registryv1.SchemaType_SCHEMA_TYPE_JSON:
		return serde.JSON
	default:
		return serde.Avro
	}
}

func (s *Schema) proto() *registryv1.Schema {
	out := &registryv1.Schema{Type: schemaType(s.Format), Text: s.Text}
	for _, r := range s.References {
		v := r.Version
		if v == 0 {
			v = -1
		}
		out.References = append(out.References, &registryv1.Reference{Name: r.Name, Subject: r.Subject, Version: v})
	}
	return out
}

// resolve finds the id of s under subject: registering it (and first its
// references that carry their schema) when register is set, looking it up
// otherwise. A schema the subject refuses is an *IncompatibleError listing
// every violation; an unregistered one a *NotRegisteredError.
func (c *Conn) resolve(ctx context.Context, subject string, s *Schema, register, normalize bool) (resolvedSchema, error) {
	out := resolvedSchema{subject: subject}
	if register {
		refs, err := c.registerReferences(ctx, s.References, normalize)
		if err != nil {
			return out, err
		}
		ps := s.proto()
		ps.References = refs
		res, err := c.registry.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: subject, Schema: ps, Normalize: normalize}))
		if err != nil {
			return out, registryError(subject, "register", err)
		}
		out.id, out.version = res.Msg.GetId(), res.Msg.GetVersion()
		return out, nil
	}
	res, err := c.registry.Lookup(ctx, connect.NewRequest(&registryv1.LookupRequest{Subject: subject, Schema: s.proto(), Normalize: normalize}))
	if err == nil {
		out.id, out.version = res.Msg.GetVersion().GetId(), res.Msg.GetVersion().GetVersion()
		return out, nil
	}
	if connect.CodeOf(err) != connect.CodeNotFound {
		return out, registryError(subject, "look up", err)
	}
	// Not registered: say why it could not be, if the subject would refuse it.
	chk, cerr := c.registry.CheckCompatibility(ctx, connect.NewRequest(&registryv1.CheckCompatibilityRequest{Subject: subject, Schema: s.proto(), Normalize: normalize}))
	if cerr == nil && !chk.Msg.GetCompatible() {
		ie := &IncompatibleError{Subject: subject, Compatibility: levelName(chk.Msg.GetCompatibility())}
		for _, v := range chk.Msg.GetViolations() {
			ie.Violations = append(ie.Violations, Violation{Path: v.GetPath(), Message: v.GetMessage(), Version: v.GetVersion()})
		}
		return out, ie
	}
	return out, &NotRegisteredError{Subject: subject}
}

// registerReferences registers the references that carry their schema,
// depth first, and returns the registry form with the versions obtained.
func (c *Conn) registerReferences(ctx context.Context, refs []Reference, normalize bool) ([]*registryv1.Reference, error) {
	var out []*registryv1.Reference
	for _, r := range refs {
		v := r.Version
		if v == 0 {
			v = -1
		}
		if r.Schema != nil {
			res, err := c.resolve(ctx, r.Subject, r.Schema, true, normalize)
			if err != nil {
				return nil, fmt.Errorf("reference %s: %w", r.Name, err)
			}
			if r.Version <= 0 {
				v = res.version
			}
		}
		out = append(out, &registryv1.Reference{Name: r.Name, Subject: r.Subject, Version: v})
	}
	return out, nil
}

func levelName(c registryv1.Compatibility) string {
	if c == registryv1.Compatibility_COMPATIBILITY_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(c.String(), "COMPATIBILITY_")
}

// registryError turns a registry call's error into the client's: an
// *IncompatibleError when the registry attached an IncompatibilityDetail.
func registryError(subject, op string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			v, derr := d.Value()
			if derr != nil {
				continue
			}
			if det, ok := v.(*registryv1.IncompatibilityDetail); ok {
				ie := &IncompatibleError{Subject: subject, Compatibility: levelName(det.GetCompatibility())}
				for _, v := range det.GetViolations() {
					ie.Violations = append(ie.Violations, Violation{Path: v.GetPath(), Message: v.GetMessage(), Version: v.GetVersion()})
				}
				return ie
			}
		}
	}
	return fmt.Errorf("registry: %s schema under subject %s: %w", op, subject, err)
}

// writerEntry is one writer schema fetched by id, filled once.
type writerEntry struct {
	done chan struct{}
	ws   *WriterSchema
	err  error
}

// writerSchema returns the schema with id and its references' texts,
// asking the registry the first time only.
func (c *Conn) writerSchema(ctx context.Context, id int32) (*WriterSchema, error) {
	c.mu.Lock()
	e, ok := c.writers[id]
	if !ok {
		e = &writerEntry{done: make(chan struct{})}
		c.writers[id] = e
		c.mu.Unlock()
		e.ws, e.err = c.fetchWriter(ctx, id)
		if e.err != nil {
			// Errors are not cached: the next record tries again.
			c.mu.Lock()
			delete(c.writers, id)
			c.mu.Unlock()
		}
		close(e.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, c.lookupError(serde.Identity{ID: id}, ctx.Err())
	}
	return e.ws, e.err
}

func (c *Conn) fetchWriter(ctx context.Context, id int32) (*WriterSchema, error) {
	res, err := c.registry.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id}))
	if err != nil {
		return nil, c.lookupError(serde.Identity{ID: id}, fmt.Errorf("registry: schema id %d: %w", id, err))
	}
	s := res.Msg.GetSchema()
	ws := &WriterSchema{ID: id, Format: formatOf(s.GetType()), Text: s.GetText()}
	seen := map[string]bool{}
	var walk func(refs []*registryv1.Reference, depth int) error
	walk = func(refs []*registryv1.Reference, depth int) error {
		if depth > 32 {
			return fmt.Errorf("registry: schema id %d: references nest deeper than 32", id)
		}
		for _, r := range refs {
			if seen[r.GetName()] {
				continue
			}
			seen[r.GetName()] = true
			v, err := c.registry.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: r.GetSubject(), Version: r.GetVersion()}))
			if err != nil {
				return c.lookupError(serde.Identity{ID: id}, fmt.Errorf("registry: schema id %d: reference %s (subject %s version %d): %w", id, r.GetName(), r.GetSubject(), r.GetVersion(), err))
			}
			rs := v.Msg.GetVersion().GetSchema()
			if err := walk(rs.GetReferences(), depth+1); err != nil {
				return err
			}
			ws.References = append(ws.References, serde.Referenced{Name: r.GetName(), Text: rs.GetText()})
		}
		return nil
	}
	if err := walk(s.GetReferences(), 0); err != nil {
		return nil, err
	}
	return ws, nil
}

// versionOf returns the version of subject that holds the schema with id,
// or 0 when the subject does not hold it. A lookup that fails for another
// reason than NotFound is an error (a *LookupError when the registry, not
// the record, is at fault), so that a registry hiccup is not remembered as
// "no version".
func (c *Conn) versionOf(ctx context.Context, subject string, ws *WriterSchema) (int32, error) {
	ident := serde.Identity{ID: ws.ID}
	res, err := c.registry.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: ws.ID}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return 0, nil
		}
		return 0, c.lookupError(ident, fmt.Errorf("registry: schema id %d: %w", ws.ID, err))
	}
	lk, err := c.registry.Lookup(ctx, connect.NewRequest(&registryv1.LookupRequest{Subject: subject, Schema: res.Msg.GetSchema(), Deleted: true}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return 0, nil
		}
		return 0, c.lookupError(ident, fmt.Errorf("registry: version of schema id %d under subject %s: %w", ws.ID, subject, err))
	}
	if lk.Msg.GetVersion().GetId() != ws.ID {
		return 0, nil
	}
	return lk.Msg.GetVersion().GetVersion(), nil
}
