package pgsource

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

// This file maps a table's columns to Avro schemas (one for the key, the
// primary-key columns; one for the value, every column) and encodes rows,
// given as PostgreSQL's text output of each column, in Avro binary.
//
// Type mapping (docs/connectors.md): boolean -> boolean; smallint, integer
// -> int; bigint -> long; real -> float; double precision -> double; bytea
// -> bytes; date -> int (date); timestamp, timestamptz -> long
// (timestamp-micros, UTC); uuid -> string (uuid); everything else (text,
// varchar, numeric, json, jsonb, arrays, enums, ...) -> string holding
// PostgreSQL's text form. Value fields other than the key's are nullable
// with a null default, so that adding or dropping a column is a compatible
// (BACKWARD) change of the subject.

// PostgreSQL type OIDs the mapping knows.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidFloat4      = 700
	oidFloat8      = 701
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidUUID        = 2950
)

// pgColumn is one column of a table as replication describes it.
type pgColumn struct {
	name string
	oid  uint32
	key  bool
}

// tableSchema is a table's Avro schemas at one point of its history.
type tableSchema struct {
	schema, table string
	cols          []pgColumn
	keyIdx        []int // indexes into cols of the key columns
	keyText       string
	valueText     string
	// sig identifies the column list (names, types, key flags).
	sig string
}

var avroNameChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

// avroName turns a PostgreSQL identifier into an Avro name.
func avroName(s string) string {
	s = avroNameChars.ReplaceAllString(s, "_")
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

// newTableSchema builds the schemas of a table. A table without a key
// column is refused: records are keyed by the primary key.
func newTableSchema(schema, table string, cols []pgColumn) (*tableSchema, error) {
	ts := &tableSchema{schema: schema, table: table, cols: cols}
	var sig strings.Builder
	var keyFields, valueFields []map[string]any
	seen := map[string]string{}
	for i, c := range cols {
		n := avroName(c.name)
		if prev, ok := seen[n]; ok {
			return nil, fmt.Errorf("table %s.%s: columns %q and %q both map to the Avro field %q", schema, table, prev, c.name, n)
		}
		seen[n] = c.name
		fmt.Fprintf(&sig, "%s:%d:%v;", c.name, c.oid, c.key)
		typ := avroType(c.oid)
		f := map[string]any{"name": n}
		if n != c.name {
			f["doc"] = "column " + c.name
		}
		if c.key {
			ts.keyIdx = append(ts.keyIdx, i)
			kf := map[string]any{"name": n, "type": typ}
			keyFields = append(keyFields, kf)
			f["type"] = typ
		} else {
			f["type"] = []any{"null", typ}
			f["default"] = nil
		}
		valueFields = append(valueFields, f)
	}
	if len(ts.keyIdx) == 0 {
		return nil, fmt.Errorf("table %s.%s has no primary key (records are keyed by it)", schema, table)
	}
	ns := "sluice.cdc." + avroName(schema)
	key, _ := json.Marshal(map[string]any{"type": "record", "name": avroName(table) + "Key", "namespace": ns, "fields": keyFields})
	value, _ := json.Marshal(map[string]any{"type": "record", "name": avroName(table), "namespace": ns, "fields": valueFields})
	ts.keyText, ts.valueText, ts.sig = string(key), string(value), sig.String()
	return ts, nil
}

func avroType(oid uint32) any {
	switch oid {
	case oidBool:
		return "boolean"
	case oidInt2, oidInt4:
		return "int"
	case oidInt8:
		return "long"
	case oidFloat4:
		return "float"
	case oidFloat8:
		return "double"
	case oidBytea:
		return "bytes"
	case oidDate:
		return map[string]any{"type": "int", "logicalType": "date"}
	case oidTimestamp, oidTimestamptz:
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}
	case oidUUID:
		return map[string]any{"type": "string", "logicalType": "uuid"}
	}
	return "string"
}

// row is one table row: each column's text output, nil for NULL.
type row [][]byte

// rowCodec is the client codec of a table's key (key true) or value
// records under ts; a nil *row is a tombstone.
type rowCodec struct {
	ts  *tableSchema
	key bool
}

var (
	_ client.Codec[row]         = (*rowCodec)(nil)
	_ client.NullableCodec[row] = (*rowCodec)(nil)
)

func (c *rowCodec) Schema() *client.Schema {
	text, name := c.ts.valueText, avroName(c.ts.table)
	if c.key {
		text, name = c.ts.keyText, name+"Key"
	}
	return &client.Schema{Format: serde.Avro, Text: text, RecordName: "sluice.cdc." + avroName(c.ts.schema) + "." + name}
}

func (c *rowCodec) IsNull(r row) bool { return r == nil }

func (c *rowCodec) Decoder(*client.WriterSchema) (client.Decoder[row], error) {
	return nil, fmt.Errorf("pgsource: the source codec does not decode")
}

// AppendEncode appends r (every column of the table, in order) as the
// key or value record.
func (c *rowCodec) AppendEncode(dst []byte, r row) ([]byte, error) {
	if len(r) != len(c.ts.cols) {
		return nil, fmt.Errorf("row has %d columns, table %s.%s has %d", len(r), c.ts.schema, c.ts.table, len(c.ts.cols))
	}
	var err error
	if c.key {
		for _, i := range c.ts.keyIdx {
			if r[i] == nil {
				return nil, fmt.Errorf("key column %s is null", c.ts.cols[i].name)
			}
			if dst, err = appendValue(dst, c.ts.cols[i].oid, r[i]); err != nil {
				return nil, fmt.Errorf("column %s: %w", c.ts.cols[i].name, err)
			}
		}
		return dst, nil
	}
	for i, col := range c.ts.cols {
		if !col.key {
			if r[i] == nil {
				dst = append(dst, 0) // union branch 0: null
				continue
			}
			dst = append(dst, 2) // union branch 1 (zigzag)
		}
		if dst, err = appendValue(dst, col.oid, r[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", col.name, err)
		}
	}
	return dst, nil
}

func appendLong(dst []byte, n int64) []byte {
	return binary.AppendUvarint(dst, uint64((n<<1)^(n>>63)))
}

func appendBytes(dst, b []byte) []byte {
	return append(appendLong(dst, int64(len(b))), b...)
}

// appendValue appends the Avro encoding of text, a column's text output.
func appendValue(dst []byte, oid uint32, text []byte) ([]byte, error) {
	s := string(text)
	switch oid {
	case oidBool:
		switch s {
		case "t", "true":
			return append(dst, 1), nil
		case "f", "false":
			return append(dst, 0), nil
		}
		return nil, fmt.Errorf("boolean %q", s)
	case oidInt2, oidInt4, oidInt8:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return appendLong(dst, n), nil
	case oidFloat4:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
	case oidFloat8:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case oidBytea:
		if !strings.HasPrefix(s, `\x`) {
			return nil, fmt.Errorf("bytea not in hex output (set bytea_output = hex)")
		}
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, err
		}
		return appendBytes(dst, b), nil
	case oidDate:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, fmt.Errorf("date %q: %w", s, err)
		}
		days := t.Unix() / 86400
		if t.Unix()%86400 < 0 {
			days--
		}
		return appendLong(dst, days), nil
	case oidTimestamp, oidTimestamptz:
		t, err := parseTimestamp(s)
		if err != nil {
			return nil, err
		}
		return appendLong(dst, t.UnixMicro()), nil
	}
	return appendBytes(dst, text), nil
}

// parseTimestamp parses PostgreSQL's ISO output of timestamp and
// timestamptz ("2024-05-01 10:00:00.123456+02", offsets may carry minutes).
func parseTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in ISO form (DateStyle ISO)", s)
}
