package console

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/serde/schemacache"
	"github.com/sluicehq/sluice/srclient"
)

// This file decodes record keys and values through the registry, as
// `sluice consume --decode` does: the envelope (or the __key_schema_id /
// __value_schema_id header) names the writer schema, fetched once per page
// over the REST API with its references; Avro and Protobuf are shown as
// JSON (Avro's JSON encoding, protojson), JSON Schema values as the JSON
// they are, after validation. The writer's subject and version are named.

// decoder decodes the records of one topic for one page or stream. It
// remembers the schemas it fetched; not safe for concurrent use.
type decoder struct {
	ctx        context.Context
	reader     *srclient.Reader
	topic      string
	strategies [2]serde.Strategy
	byID       map[int32]*writerSchema
	byGUID     map[[16]byte]int32
	failed     map[int32]error
}

// writerSchema is one schema id as the decoder uses it.
type writerSchema struct {
	id       int32
	typ      string
	versions []subjectVersion
	avro     *avro.Schema
	proto    *protobuf.Schema
	json     *jsonschema.Schema
	entry    *schemacache.Entry
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (c *Console) newDecoder(ctx context.Context, topic string, configs map[string]string) *decoder {
	d := &decoder{ctx: ctx, reader: srclient.NewReader(c.sr), topic: topic,
		byID: map[int32]*writerSchema{}, byGUID: map[[16]byte]int32{}, failed: map[int32]error{}}
	for _, side := range []serde.Side{serde.Key, serde.Value} {
		d.strategies[side] = serde.TopicName
		if s, err := serde.ParseStrategy(strings.TrimSpace(configs[side.String()+".subject.name.strategy"])); err == nil && s != "" {
			d.strategies[side] = s
		}
	}
	return d
}

// sideView is one key or value as a page shows it.
type sideView struct {
	Null bool
	// JSON is the decoded value; "" when not decoded.
	JSON string
	// Text is the raw bytes as text when they are printable UTF-8.
	Text string
	// Hex is the raw bytes in hex (always set; pages show it on demand).
	Hex  string
	Size int
	// Subject, Version, ID and Type name the writer schema.
	Subject string
	Version int
	ID      int32
	Type    string
	Err     string
	// Clipped says the page shows only the start (see clip).
	Clipped bool
}

// shownLimit bounds the characters of a key or value (and of its hex) that
// a page shows: records run to a MiB, a page shows fifty.
const shownLimit = 4 << 10

// clip cuts what the side shows to shownLimit, on a character boundary,
// and marks it Clipped.
func (s sideView) clip() sideView {
	cut := func(x string, n int) string {
		if len(x) <= n {
			return x
		}
		s.Clipped = true
		for n > 0 && !utf8.RuneStart(x[n]) {
			n--
		}
		return x[:n]
	}
	s.JSON = cut(s.JSON, shownLimit)
	s.Text = cut(s.Text, shownLimit)
	s.Hex = cut(s.Hex, 2*shownLimit)
	return s
}

// Schema names the writer schema: "orders-value v2 (id 3, AVRO)".
func (s sideView) Schema() string {
	if s.ID == 0 {
		return ""
	}
	if s.Subject == "" {
		return fmt.Sprintf("schema id %d (%s)", s.ID, s.Type)
	}
	return fmt.Sprintf("%s v%d (id %d, %s)", s.Subject, s.Version, s.ID, s.Type)
}

// Shown is what the record table shows for the side: the decoded JSON,
// else the text, else a hex preview.
func (s sideView) Shown() string {
	switch {
	case s.Null:
		return "null"
	case s.JSON != "":
		return s.JSON
	case s.Text != "":
		return s.Text
	}
	if len(s.Hex) > 64 {
		return "0x" + s.Hex[:64] + "…"
	}
	return "0x" + s.Hex
}

// matches reports whether the side's shown form contains q.
func (s sideView) matches(q string) bool {
	return strings.Contains(s.JSON, q) || strings.Contains(s.Text, q)
}

// rawView fills the raw forms of b.
func rawView(b []byte, present bool) sideView {
	if !present {
		return sideView{Null: true}
	}
	v := sideView{Hex: hex.EncodeToString(b), Size: len(b)}
	if utf8.Valid(b) && printable(b) {
		v.Text = string(b)
	}
	return v
}

func printable(b []byte) bool {
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// idHeader is the header that carries side's schema id in header mode.
func idHeader(side serde.Side) string {
	if side == serde.Key {
		return "__key_schema_id"
	}
	return "__value_schema_id"
}

// decode decodes one side of r. A key without an envelope is a plain key,
// shown as it is; a value without one says so.
func (d *decoder) decode(r *brokerv1.Record, side serde.Side) sideView {
	b, present := r.GetValue(), r.Value != nil
	if side == serde.Key {
		b, present = r.GetKey(), r.Key != nil
	}
	v := rawView(b, present)
	if !present {
		return v
	}
	var hdr []byte
	for _, h := range r.GetHeaders() {
		if h.GetKey() == idHeader(side) {
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
			v.Err = fmt.Sprintf("header %s: %v", idHeader(side), err)
			return v
		}
	} else {
		if len(b) == 0 || b[0] > 1 {
			if side == serde.Value && len(b) > 0 {
				v.Err = "no schema envelope: not decoded"
			}
			return v
		}
		ident, datum, err = serde.ParseIdentity(b)
		if err != nil {
			v.Err = "no schema envelope: " + err.Error()
			return v
		}
	}
	ws, err := d.schema(ident)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	v.ID, v.Type = ws.id, ws.typ
	var path []int
	if ws.proto != nil {
		if hdr != nil {
			_, hpath, _ := serde.ParseIdentity(hdr)
			path, _, err = serde.ReadIndexes(nil, hpath)
		} else {
			path, datum, err = serde.ReadIndexes(nil, datum)
		}
		if err != nil {
			v.Err = "message-index path: " + err.Error()
			return v
		}
	}
	v.Subject, v.Version = d.subjectOf(ws, side, path)
	switch {
	case ws.avro != nil:
		j, err := ws.avro.AppendDecodeJSON(nil, datum)
		if err != nil {
			v.Err = fieldError(err).Error()
			return v
		}
		v.JSON = string(j)
	case ws.proto != nil:
		m, err := ws.proto.Decode(path, datum)
		if err != nil {
			v.Err = fieldError(err).Error()
			return v
		}
		j, err := protojson.Marshal(m)
		if err != nil {
			v.Err = err.Error()
			return v
		}
		v.JSON = compactJSON(j)
	default:
		if err := ws.json.Validate(datum); err != nil {
			v.Err = fieldError(err).Error()
			return v
		}
		v.JSON = compactJSON(datum)
	}
	return v
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// subjectOf picks the subject version of ws to name: the one the topic's
// strategy names for this side, else the first the registry lists.
func (d *decoder) subjectOf(ws *writerSchema, side serde.Side, path []int) (string, int) {
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
func (d *decoder) schema(ident serde.Identity) (*writerSchema, error) {
	id := ident.ID
	if ident.Magic == serde.MagicGUID {
		var ok bool
		if id, ok = d.byGUID[ident.GUID]; !ok {
			g := ident.GUID
			guid := fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
			var ids []int32
			err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/guids/"+guid+"/ids", nil, nil, &ids)
			if err == nil && len(ids) == 0 {
				err = errors.New("no schema id has it")
			}
			if err != nil {
				return nil, fmt.Errorf("schema %s: %v", ident, message(err))
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
		err = fmt.Errorf("schema id %d: %s", id, message(err))
		d.failed[id] = err // for this page: asked once
		return nil, err
	}
	d.byID[id] = ws
	return ws, nil
}

func (d *decoder) fetch(id int32) (*writerSchema, error) {
	var s srclient.Schema
	ids := strconv.Itoa(int(id))
	if err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/ids/"+ids, nil, nil, &s); err != nil {
		return nil, err
	}
	s.ID = int(id)
	ws := &writerSchema{id: id, typ: s.TypeName()}
	if err := d.reader.Client.Do(d.ctx, http.MethodGet, "/schemas/ids/"+ids+"/versions", url.Values{"deleted": {"true"}}, nil, &ws.versions); err != nil {
		return nil, fmt.Errorf("its subject versions: %w", err)
	}
	parsed, err := d.reader.Parse(d.ctx, &s)
	if err != nil {
		return nil, err
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

// fieldError words a datum or validation error by the field it is about:
// `field "lines/2/price": expected long, got string`.
func fieldError(err error) error {
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

func pathError(path, reason string) error {
	if path == "" || path == "/" {
		return errors.New(reason)
	}
	p := strings.TrimPrefix(path, "/")
	p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	return fmt.Errorf("field %q: %s", p, reason)
}
