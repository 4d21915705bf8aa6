package pgsink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/srclient"
)

// datum is one decoded key or value: its columns and their values. The
// consumer's decoder only keeps the bytes and names the conversion;
// resolve converts them, which each consumer's resolver does for the
// records of a broker response at a time. A datum is kept small (88
// bytes, two per record): what only the slower paths need is in slow.
type datum struct {
	cols []column

	// enc, when set, is the columns' values in PostgreSQL's binary COPY
	// encoding (fastavro.go), which the sink COPYs as they are.
	enc []byte
	// avro, when set, is the shape of raw for the direct Avro decoder:
	// resolve transcodes raw into enc, and values decodes it on demand.
	avro *shape

	raw  []byte
	slow *slowDatum
}

// slowDatum is the part of a datum that is not transcoded straight into
// COPY fields: converted values, or the conversion still to do.
type slowDatum struct {
	rec any // a map[string]any for records, else the one value
	// text: the datum is a schemaless key, its one column's binary COPY
	// field in enc; rec, its text, is made when values asks for it.
	text bool

	// vals, when set, are the column values (the direct Avro decoder
	// gives them without a record map).
	vals rowVals

	conv func([]byte) (any, error)
}

// rawKeyInline is the longest schemaless key whose binary COPY field is
// allocated with its datum (UUIDs and most identifiers fit).
const rawKeyInline = 36

// newSlowDatum returns a datum of cols read from raw by conv, allocated
// with its slowDatum (one allocation per datum).
func newSlowDatum(cols []column, raw []byte, conv func([]byte) (any, error)) *datum {
	ds := &struct {
		d datum
		s slowDatum
	}{d: datum{cols: cols, raw: raw}, s: slowDatum{conv: conv}}
	ds.d.slow = &ds.s
	return &ds.d
}

// hasVals reports whether the datum's column values are decoded.
func (d *datum) hasVals() bool { return d.slow != nil && d.slow.vals != nil }

// setVals sets the datum's decoded column values.
func (d *datum) setVals(vals rowVals) {
	if d.slow == nil {
		d.slow = &slowDatum{}
	}
	d.slow.vals = vals
}

// arena is the memory that resolve appends encoded columns to: chunks
// shared by many datums (one allocation for many).
type arena struct {
	buf []byte
	// chunk, when set, returns an empty chunk of arenaSize bytes'
	// capacity (a recycled one when it can).
	chunk func() []byte
}

// resolve converts the datum's bytes, once. Encoded columns are appended
// to a's chunk.
func (d *datum) resolve(a *arena) error {
	if d.avro != nil {
		if d.enc != nil || d.hasVals() {
			return nil
		}
		if need := len(d.raw) + 12*len(d.cols); cap(a.buf)-len(a.buf) < need {
			if a.chunk != nil && need <= arenaSize {
				a.buf = a.chunk()
			} else {
				a.buf = make([]byte, 0, max(arenaSize, need))
			}
		}
		start := len(a.buf)
		enc, err := encodeAvroCopy(d.avro, d.raw, a.buf)
		if errors.Is(err, errNoBinary) {
			vals, err := decodeAvroFast(d.avro, d.raw, len(d.cols))
			if err == nil {
				d.setVals(vals)
			}
			return err
		}
		if err != nil {
			return err
		}
		a.buf = enc
		d.enc = enc[start:len(enc):len(enc)]
		return nil
	}
	if d.slow == nil || d.slow.conv == nil {
		return nil
	}
	rec, err := d.slow.conv(d.raw)
	d.slow.conv, d.raw = nil, nil
	if err != nil {
		return err
	}
	d.slow.rec = rec
	return nil
}

// values returns the datum's column values in cols order (after
// resolve).
func (d *datum) values() ([]any, error) {
	if d.hasVals() {
		return d.slow.vals, nil
	}
	if d.avro != nil {
		vals, err := decodeAvroFast(d.avro, d.raw, len(d.cols))
		if err != nil {
			return nil, err
		}
		d.setVals(vals)
		return vals, nil
	}
	out := make([]any, len(d.cols))
	var rec any
	if d.slow != nil {
		if d.slow.text && d.slow.rec == nil {
			d.slow.rec = string(d.enc[4:])
		}
		rec = d.slow.rec
	}
	if len(d.cols) == 1 && d.cols[0].path == nil {
		out[0] = rec
		return out, nil
	}
	for i, c := range d.cols {
		out[i] = valueAt(rec, c)
	}
	return out, nil
}

// A datum keeps the bytes the consumer decoded it from without copying
// them: they are part of the message's RawKey or RawValue, which the
// client hands over (and the sink keeps, for the dead-letter topic).
//
// codec is a client.Codec of any registered schema: it decodes datums of
// whatever writer schema a record names into columns. single names the
// column of a value that is not a record. A raw codec reads schemaless
// keys (bytes with no envelope) as text.
type codec struct {
	nested string
	single string
	raw    bool

	slab datumSlab
}

// datumSlab hands out datums carved from blocks of 256: one allocation
// for many records.
type datumSlab struct {
	mu   sync.Mutex
	free []datum
}

func (s *datumSlab) new() *datum {
	s.mu.Lock() // no defer: this is per record
	if len(s.free) == 0 {
		s.free = make([]datum, 256)
	}
	d := &s.free[0]
	s.free = s.free[1:]
	s.mu.Unlock()
	return d
}

var _ client.Codec[*datum] = (*codec)(nil)

func (c *codec) Schema() *client.Schema {
	if c.raw {
		return &client.Schema{}
	}
	// Any non-empty format: the consumer then reads the envelope and asks
	// Decoder for each writer schema, whatever its format.
	return &client.Schema{Format: serde.Avro}
}

func (c *codec) AppendEncode(dst []byte, v *datum) ([]byte, error) {
	return nil, fmt.Errorf("pgsink: the sink codec does not encode")
}

func (c *codec) Decoder(ws *client.WriterSchema) (client.Decoder[*datum], error) {
	if ws == nil {
		if !c.raw {
			return nil, fmt.Errorf("pgsink: no writer schema")
		}
		cols := []column{{name: c.single, pgType: "text"}} // shared: its address names the layout
		return func(b []byte, v **datum) error {
			// One allocation for the datum, its slowDatum and, for a key
			// of up to rawKeyInline bytes, its binary COPY field.
			kd := &struct {
				d   datum
				s   slowDatum
				enc [4 + rawKeyInline]byte
			}{s: slowDatum{text: true}}
			var enc []byte
			if len(b) <= rawKeyInline {
				enc = kd.enc[:0]
			} else {
				enc = make([]byte, 0, 4+len(b))
			}
			enc = append(binary.BigEndian.AppendUint32(enc, uint32(len(b))), b...)
			kd.d = datum{cols: cols, enc: enc, slow: &kd.s}
			*v = &kd.d
			return nil
		}, nil
	}
	parsed, err := srclient.ParseSchema(srclient.TypeOf(ws.Format), ws.Text, ws.References)
	if err != nil {
		return nil, err
	}
	switch p := parsed.(type) {
	case *avro.Schema:
		sh, err := avroShape(p)
		if err != nil {
			return nil, err
		}
		cols, err := columnsOf(sh, c.nested, c.single)
		if err != nil {
			return nil, err
		}
		if (c.nested == NestedFlatten || sh.kind != kRecord) && fastAvroOK(sh) {
			return func(b []byte, v **datum) error {
				d := c.slab.new() // zeroed: set only what is not
				d.cols, d.raw, d.avro = cols, b, sh
				*v = d
				return nil
			}, nil
		}
		conv := func(b []byte) (any, error) {
			var v any
			if err := p.Decode(b, &v); err != nil {
				return nil, err
			}
			return fromAvroNative(sh, v)
		}
		return func(b []byte, v **datum) error {
			*v = newSlowDatum(cols, b, conv)
			return nil
		}, nil
	case *jsonschema.Schema:
		sh := jsonShape(p)
		cols, err := columnsOf(sh, c.nested, c.single)
		if err != nil {
			return nil, err
		}
		conv := func(b []byte) (any, error) {
			if err := p.Validate(b); err != nil {
				return nil, err
			}
			doc, err := decodeJSON(b)
			if err != nil {
				return nil, err
			}
			return fromJSON(sh, doc)
		}
		return func(b []byte, v **datum) error {
			*v = newSlowDatum(cols, b, conv)
			return nil
		}, nil
	case *protobuf.Schema:
		// The message of each message-index path met, by the path's
		// canonical bytes (no allocation to find it; a path written
		// otherwise, as non-minimal varints, is looked up by its
		// canonical bytes: the map holds one entry per path).
		type entry struct {
			cols []column
			conv func([]byte) (any, error)
		}
		var (
			mu       sync.Mutex
			byPrefix = map[string]*entry{}
		)
		return func(b []byte, v **datum) error {
			var pathBuf [4]int
			path, msg, err := serde.ReadIndexes(pathBuf[:0], b)
			if err != nil {
				return fmt.Errorf("message-index path: %w", err)
			}
			prefix := b[:len(b)-len(msg)]
			mu.Lock()
			e := byPrefix[string(prefix)]
			mu.Unlock()
			if e == nil {
				prefix = serde.AppendIndexes(nil, path)
				mu.Lock()
				e = byPrefix[string(prefix)]
				mu.Unlock()
			}
			if e == nil {
				path := slices.Clone(path)
				md, err := p.MessageByIndexes(path)
				if err != nil {
					return err
				}
				sh := protoShape(md)
				cols, err := columnsOf(sh, c.nested, c.single)
				if err != nil {
					return err
				}
				e = &entry{cols: cols, conv: func(msg []byte) (any, error) {
					m, err := p.Decode(path, msg)
					if err != nil {
						return nil, err
					}
					return fromProto(sh, m)
				}}
				mu.Lock()
				byPrefix[string(prefix)] = e
				mu.Unlock()
			}
			*v = newSlowDatum(e.cols, msg, e.conv)
			return nil
		}, nil
	}
	return nil, fmt.Errorf("pgsink: schema id %d: unsupported format %s", ws.ID, ws.Format)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonValue marshals a converted record for a jsonb column.
func jsonValue(m map[string]any) any {
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(strconv.Quote(err.Error()))
	}
	return json.RawMessage(b)
}
