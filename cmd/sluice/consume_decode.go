package main

// consume --decode: each key and value decoded through the registry to
// JSON, with the writer schema's subject, version and id.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/serde/schemacache"
)

// errDecodeStop ends consume --decode --stop-on-decode-error at a record
// that does not decode.
var errDecodeStop = errors.New("stopped at a record that does not decode (--stop-on-decode-error)")

// writerSchema is one schema id as the decoder uses it.
type writerSchema struct {
	id  int32
	typ string // AVRO, PROTOBUF or JSON
	// versions are the subject versions that hold the schema.
	versions []subjectVersion

	avro  *avro.Schema
	proto *protobuf.Schema
	json  *jsonschema.Schema
	entry *schemacache.Entry // for the record name a strategy needs
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// recordDecoder decodes record keys and values through the registry,
// remembering every schema it fetched. Its ctx is the command's: the
// decoder lives exactly as long as the command.
type recordDecoder struct {
	ctx        context.Context
	reg        *srReader
	topic      string
	strategies [2]serde.Strategy // by serde.Side
	stopOnErr  bool
	byID       map[int32]*writerSchema
	byGUID     map[[16]byte]int32
	failed     map[int32]error // ids the registry does not know, not asked again
}

// newRecordDecoder prepares decoding for topic; the subject-name
// strategies come from the topic's configs (topic when unset).
func newRecordDecoder(ctx context.Context, reg *srReader, topic string, configs map[string]string, stopOnErr bool) (*recordDecoder, error) {
	d := &recordDecoder{ctx: ctx, reg: reg, topic: topic, stopOnErr: stopOnErr,
		byID: map[int32]*writerSchema{}, byGUID: map[[16]byte]int32{}, failed: map[int32]error{}}
	for _, side := range []serde.Side{serde.Key, serde.Value} {
		d.strategies[side] = serde.TopicName
		if v := strings.TrimSpace(configs[side.String()+".subject.name.strategy"]); v != "" {
			s, err := serde.ParseStrategy(v)
			if err != nil {
				return nil, fmt.Errorf("topic %s: %s.subject.name.strategy: %w", topic, side, err)
			}
			d.strategies[side] = s
		}
	}
	return d, nil
}

// decodedSide is one key or value after decoding.
type decodedSide struct {
	// JSON is the decoded value; nil when the bytes were not decoded.
	JSON json.RawMessage
	// Subject and Version name the writer schema's subject version (the
	// one the topic's strategy names, when the schema is under several);
	// empty when the registry lists none. ID is always set when JSON is.
	Subject string
	Version int
	ID      int32
	Type    string
	// Err says why the bytes were not decoded ("" for a plain key).
	Err string
}

// headerFor is the header of side's schema id in header mode.
func headerFor(side serde.Side) string {
	if side == serde.Key {
		return "__key_schema_id"
	}
	return "__value_schema_id"
}

// decode decodes one side of r. Null stays null. A key without an
// envelope is a plain key, printed as it is without complaint; a value
// without one is reported.
func (d *recordDecoder) decode(r *brokerv1.Record, side serde.Side) decodedSide {
	b := r.GetValue()
	if side == serde.Key {
		b = r.GetKey()
	}
	if b == nil {
		return decodedSide{}
	}
	var hdr []byte
	for _, h := range r.GetHeaders() {
		if h.GetKey() == headerFor(side) {
			hdr = h.GetValue()
		}
	}
	var (
		ident serde.Identity
		datum []byte
		err   error
	)
	if hdr != nil {
		ident, _, err = serde.ParseIdentity(hdr)
		datum = b
		if err != nil {
			return decodedSide{Err: fmt.Sprintf("header %s: %v", headerFor(side), err)}
		}
	} else {
		if side == serde.Key && (len(b) == 0 || b[0] > 1) {
			return decodedSide{} // a plain key
		}
		ident, datum, err = serde.ParseIdentity(b)
		if err != nil {
			return decodedSide{Err: "no schema envelope: " + err.Error()}
		}
	}
	ws, err := d.schema(ident)
	if err != nil {
		return decodedSide{Err: err.Error()}
	}
	out := decodedSide{ID: ws.id, Type: ws.typ}
	var path []int
	if ws.proto != nil {
		var hpath []byte
		if hdr != nil {
			_, hpath, _ = serde.ParseIdentity(hdr)
			path, _, err = serde.ReadIndexes(nil, hpath)
		} else {
			path, datum, err = serde.ReadIndexes(nil, datum)
		}
		if err != nil {
			out.Err = "message-index path: " + err.Error()
			return out
		}
	}
	out.Subject, out.Version = d.subjectOf(ws, side, path)
	switch {
	case ws.avro != nil:
		j, err := ws.avro.AppendDecodeJSON(nil, datum)
		if err != nil {
			out.Err = fieldError(err).Error()
			return out
		}
		out.JSON = j
	case ws.proto != nil:
		m, err := ws.proto.Decode(path, datum)
		if err != nil {
			out.Err = fieldError(err).Error()
			return out
		}
		j, err := protojson.Marshal(m)
		if err != nil {
			out.Err = err.Error()
			return out
		}
		out.JSON = compactJSON(j)
	default:
		if err := ws.json.Validate(datum); err != nil {
			out.Err = fieldError(err).Error()
			return out
		}
		out.JSON = compactJSON(datum)
	}
	return out
}

// compactJSON removes insignificant space (protojson varies its spacing on
// purpose; stored JSON keeps whatever the producer wrote).
func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// subjectOf picks the subject version of ws to show: the one the topic's
// strategy names for this side, else the first the registry lists.
func (d *recordDecoder) subjectOf(ws *writerSchema, side serde.Side, path []int) (string, int) {
	if len(ws.versions) == 0 {
		return "", 0
	}
	want := d.topic + "-" + side.String()
	if st := d.strategies[side]; st.NeedsRecordName() && ws.entry != nil {
		if name, err := ws.entry.RecordName(path); err == nil {
			want, _ = st.Subject(d.topic, side, name)
		}
	}
	for _, sv := range ws.versions {
		if sv.Subject == want {
			return sv.Subject, sv.Version
		}
	}
	return ws.versions[0].Subject, ws.versions[0].Version
}

// schema returns the writer schema of ident, fetching it once.
func (d *recordDecoder) schema(ident serde.Identity) (*writerSchema, error) {
	id := ident.ID
	if ident.Magic == serde.MagicGUID {
		var ok bool
		if id, ok = d.byGUID[ident.GUID]; !ok {
			if d.reg == nil {
				return nil, fmt.Errorf("schema %s: %w", ident, errNoRegistry)
			}
			var ids []int32
			g := ident.GUID
			guid := fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
			err := d.reg.c.do(d.ctx, http.MethodGet, "/schemas/guids/"+guid+"/ids", nil, nil, &ids)
			if err == nil && len(ids) == 0 {
				err = errors.New("no schema id has it")
			}
			if err != nil {
				return nil, fmt.Errorf("schema %s: %v", ident, err)
			}
			id = ids[0]
			d.byGUID[ident.GUID] = id
		}
	}
	if ws, ok := d.byID[id]; ok {
		return ws, nil
	}
	if err, ok := d.failed[id]; ok {
		return nil, err
	}
	ws, err := d.fetch(id)
	if err != nil {
		if what := fmt.Sprintf("schema id %d", id); !strings.Contains(err.Error(), what) {
			err = fmt.Errorf("%s: %v", what, err)
		}
		// Only an unknown id is remembered; a registry that was briefly
		// unreachable is asked again at the next record.
		if c := srCode(err); c == 40403 || c == 404 || errors.Is(err, errNoRegistry) {
			d.failed[id] = err
		}
		return nil, err
	}
	d.byID[id] = ws
	return ws, nil
}

// errNoRegistry is what lookups answer when the decoder has no registry
// (tests that preload every schema).
var errNoRegistry = errors.New("no registry to ask")

func (d *recordDecoder) fetch(id int32) (*writerSchema, error) {
	if d.reg == nil {
		return nil, errNoRegistry
	}
	var s srSchema
	if err := d.reg.c.do(d.ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(int(id)), nil, nil, &s); err != nil {
		return nil, err
	}
	s.ID = int(id)
	ws := &writerSchema{id: id, typ: s.typeName()}
	q := url.Values{"deleted": {"true"}}
	if err := d.reg.c.do(d.ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(int(id))+"/versions", q, nil, &ws.versions); err != nil {
		return nil, fmt.Errorf("its subject versions: %w", err)
	}
	refs, err := d.reg.references(d.ctx, &s)
	if err != nil {
		return nil, err
	}
	parsed, err := parseSchemaText(ws.typ, s.Schema, refs)
	if err != nil {
		return nil, fmt.Errorf("does not parse here: %w", err)
	}
	switch p := parsed.(type) {
	case *avro.Schema:
		ws.avro = p
	case *protobuf.Schema:
		ws.proto = p
	case *jsonschema.Schema:
		ws.json = p
	}
	ws.entry, _ = schemacache.NewEntry(id, parsed)
	return ws, nil
}

// decodedJSON is the --output json shape of a decoded record.
type decodedJSON struct {
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   string       `json:"timestamp"`
	Key         any          `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	KeySchema   *schemaJSON  `json:"key_schema,omitempty"`
	KeyError    string       `json:"key_error,omitempty"`
	Value       any          `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	ValueSchema *schemaJSON  `json:"value_schema,omitempty"`
	ValueError  string       `json:"value_error,omitempty"`
	Headers     []headerJSON `json:"headers,omitempty"`
}

// schemaJSON names a writer schema.
type schemaJSON struct {
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	ID      int32  `json:"id"`
	Type    string `json:"type"`
}

// sideJSON fills one side's fields of a decodedJSON.
func sideJSON(raw []byte, ds decodedSide) (v any, b64 string, sch *schemaJSON, errText string) {
	if ds.ID != 0 {
		sch = &schemaJSON{Subject: ds.Subject, Version: ds.Version, ID: ds.ID, Type: ds.Type}
	}
	if ds.JSON != nil {
		return ds.JSON, "", sch, ""
	}
	s, b64 := jsonBytes(raw)
	if s != nil {
		v = *s
	}
	return v, b64, sch, ds.Err
}

// appendSideText appends " side=VALUE" and, after it, what the text line
// says about the schema or the error.
func appendSideText(buf []byte, name string, raw []byte, ds decodedSide) []byte {
	if ds.JSON != nil {
		return fmt.Appendf(buf, " %s=%s", name, ds.JSON)
	}
	return fmt.Appendf(buf, " %s=%s", name, textBytes(raw))
}

func appendSchemaText(buf []byte, name string, ds decodedSide) []byte {
	if ds.ID != 0 {
		if ds.Subject != "" {
			buf = fmt.Appendf(buf, " %s.schema=%s:%d", name, ds.Subject, ds.Version)
		}
		buf = fmt.Appendf(buf, " %s.id=%d", name, ds.ID)
	}
	if ds.Err != "" {
		buf = fmt.Appendf(buf, " %s.error=%s", name, strconv.Quote(ds.Err))
	}
	return buf
}
