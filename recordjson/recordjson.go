// Package recordjson shows records' keys and values as JSON through the
// schema registry: the envelope (or a __key_schema_id / __value_schema_id
// header) names the writer schema, fetched once over the REST API with its
// references; Avro is decoded to Avro's JSON encoding, Protobuf to
// protojson, and JSON Schema values are the JSON they are, after
// validation. The writer's subject and version are named. `sluice consume
// --decode` and the web console both show records through it.
//
// Encoder goes the other way (encode.go): a key or value typed as JSON
// becomes record bytes through a registered schema, for `sluice produce
// --value-subject` and the console's produce form.
package recordjson

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
	"github.com/sluicehq/sluice/srclient"
)

// Side is one key or value after decoding.
type Side struct {
	// JSON is the decoded value; nil when the bytes were not decoded.
	JSON json.RawMessage
	// Subject and Version name the writer schema's subject version (the
	// one the topic's strategy names, when the schema is under several);
	// empty when the registry lists none. ID and Type are set once the
	// writer schema is known.
	Subject string
	Version int
	ID      int32
	Type    string
	// Err says why the bytes were not decoded ("" for null, and for a
	// plain key: keys are often plain strings).
	Err string
}

// SubjectVersion is one subject version holding a schema.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// writerSchema is one schema id as the decoder uses it.
type writerSchema struct {
	id       int32
	typ      string // AVRO, PROTOBUF or JSON
	versions []SubjectVersion

	avro  *avro.Schema
	proto *protobuf.Schema
	json  *jsonschema.Schema
	entry *schemacache.Entry // for the record name a strategy needs
}

// Decoder decodes the records of one topic, remembering every schema it
// fetched and every id the registry does not know. Not safe for
// concurrent use; its ctx bounds its registry requests.
type Decoder struct {
	ctx        context.Context
	reader     *srclient.Reader
	topic      string
	strategies [2]serde.Strategy // by serde.Side
	byID       map[int32]*writerSchema
	byGUID     map[[16]byte]int32
	failed     map[int32]error
	failedGUID map[[16]byte]error
}

// ErrNoRegistry is the error of a lookup by a Decoder without a registry
// (one whose schemas were all given with Preload).
var ErrNoRegistry = errors.New("no registry to ask")

// New returns a Decoder of topic's records reading reader's registry (nil:
// only preloaded schemas). The subject-name strategies come from the
// topic's configs (key.subject.name.strategy, value.subject.name.strategy;
// TopicNameStrategy when unset); an unknown one is an error.
func New(ctx context.Context, reader *srclient.Reader, topic string, configs map[string]string) (*Decoder, error) {
	d := &Decoder{ctx: ctx, reader: reader, topic: topic,
		byID: map[int32]*writerSchema{}, byGUID: map[[16]byte]int32{}, failed: map[int32]error{},
		failedGUID: map[[16]byte]error{}}
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

// Preload gives the decoder schema id's parsed schema and the subject
// versions holding it, so that it is never fetched.
func (d *Decoder) Preload(id int32, s serde.Schema, versions []SubjectVersion) {
	ws := &writerSchema{id: id, versions: versions}
	switch p := s.(type) {
	case *avro.Schema:
		ws.avro, ws.typ = p, "AVRO"
	case *protobuf.Schema:
		ws.proto, ws.typ = p, "PROTOBUF"
	case *jsonschema.Schema:
		ws.json, ws.typ = p, "JSON"
	}
	ws.entry, _ = schemacache.NewEntry(id, s)
	d.byID[id] = ws
}

// IDHeader is the header naming side's schema when the bytes carry no
// envelope (header mode).
func IDHeader(side serde.Side) string {
	if side == serde.Key {
		return "__key_schema_id"
	}
	return "__value_schema_id"
}

// Decode decodes one side of r. Null stays null (a zero Side). A key
// without a valid envelope, or whose envelope names an id the registry
// does not have (a big-endian number key starts with 0x00), is a plain
// key, shown as it is without complaint; a value without one is reported.
func (d *Decoder) Decode(r *brokerv1.Record, side serde.Side) Side {
	b := r.GetValue()
	if side == serde.Key {
		b = r.GetKey()
	}
	if b == nil {
		return Side{}
	}
	var hdr []byte
	for _, h := range r.GetHeaders() {
		if h.GetKey() == IDHeader(side) {
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
			return Side{Err: fmt.Sprintf("header %s: %v", IDHeader(side), err)}
		}
	} else {
		if side == serde.Key && (len(b) == 0 || b[0] > 1) {
			return Side{} // a plain key
		}
		ident, datum, err = serde.ParseIdentity(b)
		if err != nil {
			if side == serde.Key {
				return Side{} // a plain key that starts like an envelope
			}
			return Side{Err: "no schema envelope: " + err.Error()}
		}
	}
	ws, err := d.schema(ident)
	if err != nil {
		// A plain key may look enveloped (a big-endian number starts
		// with 0x00): one naming an id the registry does not have is
		// taken as a plain key.
		if side == serde.Key && hdr == nil && notFound(err) {
			return Side{}
		}
		return Side{Err: err.Error()}
	}
	out := Side{ID: ws.id, Type: ws.typ}
	var path []int
	if ws.proto != nil {
		if hdr != nil {
			_, hpath, _ := serde.ParseIdentity(hdr)
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
			out.Err = FieldError(err).Error()
			return out
		}
		out.JSON = j
	case ws.proto != nil:
		m, err := ws.proto.Decode(path, datum)
		if err != nil {
			out.Err = FieldError(err).Error()
			return out
		}
		j, err := protojson.Marshal(m)
		if err != nil {
			out.Err = err.Error()
			return out
		}
		out.JSON = compact(j)
	default:
		if err := ws.json.Validate(datum); err != nil {
			out.Err = FieldError(err).Error()
			return out
		}
		out.JSON = compact(datum)
	}
	return out
}

// compact removes insignificant space (protojson varies its spacing on
// purpose; stored JSON keeps whatever the producer wrote).
func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// subjectOf picks the subject version of ws to name: the one the topic's
// strategy names for this side, else the first the registry lists.
func (d *Decoder) subjectOf(ws *writerSchema, side serde.Side, path []int) (string, int) {
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
func (d *Decoder) schema(ident serde.Identity) (*writerSchema, error) {
	id := ident.ID
	if ident.Magic == serde.MagicGUID {
		var ok bool
		if id, ok = d.byGUID[ident.GUID]; !ok {
			if err, ok := d.failedGUID[ident.GUID]; ok {
				return nil, err
			}
			if d.reader == nil {
				return nil, fmt.Errorf("schema %s: %w", ident, ErrNoRegistry)
			}
			var ids []int32
			g := ident.GUID
			guid := fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
			err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/guids/"+guid+"/ids", nil, nil, &ids)
			unknown := err == nil && len(ids) == 0
			if unknown {
				err = errors.New("no schema id has it")
			}
			if err != nil {
				err = fmt.Errorf("schema %s: %w", ident, err)
				// As for ids: an unknown GUID is remembered (every record
				// of a page would ask again), an unreachable registry not.
				if unknown || notFound(err) {
					d.failedGUID[ident.GUID] = err
				}
				return nil, err
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
			err = fmt.Errorf("%s: %w", what, err)
		}
		// Only an unknown id is remembered; a registry that was briefly
		// unreachable is asked again at the next record.
		if notFound(err) || errors.Is(err, ErrNoRegistry) {
			d.failed[id] = err
		}
		return nil, err
	}
	d.byID[id] = ws
	return ws, nil
}

// notFound reports whether err is the registry's answer that what was
// asked for does not exist (40403, or a bare 404).
func notFound(err error) bool {
	c := srclient.Code(err)
	return c == 40403 || c == 404
}

// fetch reads schema id, its subject versions and its references.
func (d *Decoder) fetch(id int32) (*writerSchema, error) {
	if d.reader == nil {
		return nil, ErrNoRegistry
	}
	var s srclient.Schema
	ids := strconv.Itoa(int(id))
	if err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/ids/"+ids, nil, nil, &s); err != nil {
		return nil, err
	}
	s.ID = int(id)
	var versions []SubjectVersion
	if err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/ids/"+ids+"/versions", url.Values{"deleted": {"true"}}, nil, &versions); err != nil {
		return nil, fmt.Errorf("its subject versions: %w", err)
	}
	refs, err := d.reader.References(d.ctx, &s)
	if err != nil {
		return nil, err
	}
	parsed, err := srclient.ParseSchema(s.TypeName(), s.Schema, refs)
	if err != nil {
		return nil, fmt.Errorf("does not parse here: %w", err)
	}
	d.Preload(id, parsed, versions)
	return d.byID[id], nil
}

// FieldError words a datum or validation error by the field it is about:
// `field "lines/2/price": expected long, got string`; other errors are
// returned as they are.
func FieldError(err error) error {
	var de *serde.DatumError
	if errors.As(err, &de) {
		return pathError(de.Path, de.Reason)
	}
	var ves jsonschema.ValidationErrors
	if errors.As(err, &ves) && len(ves) > 0 {
		parts := make([]string, len(ves))
		for i, ve := range ves {
			reason := ve.Reason
			if ve.Keyword != "" {
				reason += " (schema " + ve.Keyword + ")"
			}
			parts[i] = pathError(ve.Path, reason).Error()
		}
		return errors.New(strings.Join(parts, "; "))
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return pathError(ve.Path, ve.Reason)
	}
	return err
}

// pathError names the field at a JSON-pointer-like path.
func pathError(path, reason string) error {
	if path == "" || path == "/" {
		return errors.New(reason)
	}
	p := strings.TrimPrefix(path, "/")
	p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	return fmt.Errorf("field %q: %s", p, reason)
}
