// Package schemacache keeps parsed schemas by id, each with the compiled
// validator of its format, for the per-record checks of schema enforcement
// (DESIGN.md §3.3). It is filled on demand from a Source (the registry) and
// dropped whole whenever the Source reports a change.
//
// Invalidation is synchronous: every Get first polls the Source's change
// channel without blocking, so a lookup that starts after a registry write
// has returned never sees an entry from before it. No goroutine runs on the
// cache's behalf, so there is nothing to close.
package schemacache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Source is where schemas come from. *registry.Registry satisfies it; the
// interface keeps serde free of the registry package.
type Source interface {
	// SchemaByIDParsed returns the parsed schema with id, or an error when
	// there is none.
	SchemaByIDParsed(ctx context.Context, id int) (serde.Schema, error)
	// Watch returns a channel closed after the next change of the source.
	Watch() <-chan struct{}
}

// Cache maps schema ids to entries. It is safe for concurrent use.
type Cache struct {
	src Source
	gen atomic.Pointer[generation]
	mu  sync.Mutex // serialises generation swaps
}

// generation is the cache's content between two changes of the source.
type generation struct {
	changed <-chan struct{}
	entries sync.Map // int32 -> *Entry
}

// New returns an empty cache over src.
func New(src Source) *Cache {
	c := &Cache{src: src}
	c.gen.Store(&generation{changed: src.Watch()})
	return c
}

// current returns the live generation, starting a new one when the source
// changed since the current one began. The new generation takes its change
// channel before anything is read from the source for it, so a change that
// races with a fill always invalidates the filled entry.
func (c *Cache) current() *generation {
	g := c.gen.Load()
	select {
	case <-g.changed:
	default:
		return g
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g2 := c.gen.Load(); g2 != g {
		return g2
	}
	g = &generation{changed: c.src.Watch()}
	c.gen.Store(g)
	return g
}

// Changed returns a channel closed when the cache's current content is
// dropped; callers keeping data derived from the same source (the broker's
// per-topic state) follow the same generations.
func (c *Cache) Changed() <-chan struct{} { return c.current().changed }

// Get returns the entry of id, parsing and compiling it on first use.
// Errors come from the source (an unknown id) and are not cached.
func (c *Cache) Get(ctx context.Context, id int32) (*Entry, error) {
	g := c.current()
	if e, ok := g.entries.Load(id); ok {
		return e.(*Entry), nil
	}
	s, err := c.src.SchemaByIDParsed(ctx, int(id))
	if err != nil {
		return nil, err
	}
	e, err := NewEntry(id, s)
	if err != nil {
		return nil, err
	}
	actual, _ := g.entries.LoadOrStore(id, e)
	return actual.(*Entry), nil
}

// Entry is one schema with its compiled validator. It is immutable.
type Entry struct {
	// ID is the schema id.
	ID int32
	// Schema is the parsed schema.
	Schema serde.Schema

	avro  *avro.Schema
	proto *protobuf.Schema
	json  *jsonschema.Schema
	// jsonPayload is the JSON walker when serde/jsonschema offers one
	// (ValidatePayload, which avoids a second parse); nil falls back to
	// Validate.
	jsonPayload func([]byte) error
}

// payloadValidator is the optional single-pass JSON payload check.
type payloadValidator interface{ ValidatePayload(b []byte) error }

// NewEntry compiles an entry for a schema parsed elsewhere (a schema sent
// with a request, not yet registered: id 0).
func NewEntry(id int32, s serde.Schema) (*Entry, error) {
	e := &Entry{ID: id, Schema: s}
	switch t := s.(type) {
	case *avro.Schema:
		e.avro = t
	case *protobuf.Schema:
		e.proto = t
	case *jsonschema.Schema:
		e.json = t
		if pv, ok := s.(payloadValidator); ok {
			e.jsonPayload = pv.ValidatePayload
		}
	default:
		return nil, fmt.Errorf("schema id %d: unsupported schema implementation %T", id, s)
	}
	return e, nil
}

// Format is the schema's format.
func (e *Entry) Format() serde.Format { return e.Schema.Format() }

// HasIndexes reports whether an envelope of this schema carries a
// message-index path after the id (Protobuf).
func (e *Entry) HasIndexes() bool { return e.proto != nil }

// RecordName returns the record name of spec/wire-format.md §7.1 for the
// datum: the Avro record's full name, the full name of the Protobuf message
// that path names, or the JSON Schema title. A schema without one answers
// an error wrapping serde.ErrNoRecordName.
func (e *Entry) RecordName(path []int) (string, error) {
	switch {
	case e.avro != nil:
		if n := e.avro.Name(); n != "" && e.avro.Avro().Type() == "record" {
			return n, nil
		}
		return "", fmt.Errorf("the top level of Avro schema id %d is a %s, not a record: %w", e.ID, e.avro.Avro().Type(), serde.ErrNoRecordName)
	case e.proto != nil:
		md, err := e.proto.MessageByIndexes(path)
		if err != nil {
			return "", err
		}
		return string(md.FullName()), nil
	default:
		if n := e.json.Name(); n != "" {
			return n, nil
		}
		return "", fmt.Errorf("JSON schema id %d has no top-level title: %w", e.ID, serde.ErrNoRecordName)
	}
}

// ResolvePath checks that a Protobuf message-index path names a message of
// the schema; other formats accept only a nil path.
func (e *Entry) ResolvePath(path []int) error {
	if e.proto == nil {
		if path != nil {
			return errors.New("a message-index path is only meaningful for Protobuf")
		}
		return nil
	}
	_, err := e.proto.MessageByIndexes(path)
	return err
}

// Validate checks that datum (the bytes after the envelope) is one value of
// the schema; path is the Protobuf message-index path, nil for the other
// formats. Mismatches are *serde.DatumError from the format's walker.
func (e *Entry) Validate(path []int, datum []byte) error {
	switch {
	case e.avro != nil:
		return e.avro.ValidateDatum(datum)
	case e.proto != nil:
		return e.proto.ValidateMessage(path, datum)
	case e.jsonPayload != nil:
		return e.jsonPayload(datum)
	default:
		return e.json.Validate(datum)
	}
}
