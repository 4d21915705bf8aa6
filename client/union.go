package client

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// RecordNamer is implemented by codecs that can tell which record (Avro
// record, Protobuf message, JSON Schema title) a datum written with a given
// writer schema holds. Union needs it to pick the event type of a record.
type RecordNamer interface {
	// RecordNames returns, for datums written with w, a function naming
	// the record each holds (for Avro and JSON Schema it does not depend on
	// the datum; for Protobuf it reads the message-index path).
	RecordNames(w *WriterSchema) (func(datum []byte) (string, error), error)
}

// EventType is one event type of a topic that carries several, for
// NewUnion.
type EventType struct {
	schema  *Schema
	namer   RecordNamer
	decoder func(w *WriterSchema) (Decoder[any], error)
}

// Event describes the event type whose values codec c reads. c must
// implement RecordNamer (every codec of the per-format packages does).
func Event[T any](c Codec[T]) EventType {
	namer, _ := c.(RecordNamer)
	return EventType{
		schema: c.Schema(),
		namer:  namer,
		decoder: func(w *WriterSchema) (Decoder[any], error) {
			d, err := c.Decoder(w)
			if err != nil {
				return nil, err
			}
			return func(b []byte, v *any) error {
				var t T
				if err := d(b, &t); err != nil {
					return err
				}
				*v = t
				return nil
			}, nil
		},
	}
}

// Union is the value codec of a consumer of a topic that carries several
// event types, each registered under its own subject (the record and
// topic_record strategies). A record decodes into the event type whose
// record name its writer schema gives it, as an any holding that type's
// value. Union does not encode: produce each event type with a Producer of
// its own codec.
type Union struct {
	schema *Schema
	byName map[string]EventType

	mu   sync.Mutex
	decs map[string]Decoder[any] // writer id and record name -> decoder
}

var _ Codec[any] = (*Union)(nil)

// NewUnion returns the codec of the event types, which must have distinct
// record names.
func NewUnion(events ...EventType) (*Union, error) {
	if len(events) == 0 {
		return nil, errors.New("union: no event types")
	}
	u := &Union{byName: map[string]EventType{}, decs: map[string]Decoder[any]{}}
	for i, e := range events {
		switch {
		case e.schema == nil || e.schema.RecordName == "":
			return nil, fmt.Errorf("union: event type %d has no record name", i)
		case e.namer == nil:
			return nil, fmt.Errorf("union: the codec of %s cannot name records (it does not implement client.RecordNamer)", e.schema.RecordName)
		}
		if _, dup := u.byName[e.schema.RecordName]; dup {
			return nil, fmt.Errorf("union: %s is listed twice", e.schema.RecordName)
		}
		u.byName[e.schema.RecordName] = e
	}
	u.schema = &Schema{Format: events[0].schema.Format}
	return u, nil
}

// recordNames returns the event types' record names, sorted.
func (u *Union) recordNames() []string {
	names := make([]string, 0, len(u.byName))
	for n := range u.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Schema returns a schema with the members' format and no text: a union
// is not registered itself.
func (u *Union) Schema() *Schema { return u.schema }

// AppendEncode refuses: each event type has its own producer.
func (u *Union) AppendEncode(dst []byte, v any) ([]byte, error) {
	return dst, fmt.Errorf("union: cannot encode %T: produce each event type with a Producer of its own codec", v)
}

// RecordNames names records with the namer of an event type of w's format.
func (u *Union) RecordNames(w *WriterSchema) (func([]byte) (string, error), error) {
	var errs []error
	for _, e := range u.byName {
		if e.schema.Format != w.Format {
			continue
		}
		n, err := e.namer.RecordNames(w)
		if err == nil {
			return n, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("union: no event type reads %s schema %d: %w", w.Format, w.ID, errors.Join(errs...))
}

// Decoder returns the decoder of datums written with w: it names each
// datum's record, then decodes it with that event type's codec.
func (u *Union) Decoder(w *WriterSchema) (Decoder[any], error) {
	names, err := u.RecordNames(w)
	if err != nil {
		return nil, err
	}
	return func(b []byte, v *any) error {
		name, err := names(b)
		if err != nil {
			return err
		}
		key := fmt.Sprintf("%d/%s", w.ID, name)
		u.mu.Lock()
		dec, ok := u.decs[key]
		u.mu.Unlock()
		if !ok {
			e, known := u.byName[name]
			if !known {
				return &UnknownEventError{Field: "record " + name}
			}
			if dec, err = e.decoder(w); err != nil {
				return err
			}
			u.mu.Lock()
			u.decs[key] = dec
			u.mu.Unlock()
		}
		return dec(b, v)
	}, nil
}
