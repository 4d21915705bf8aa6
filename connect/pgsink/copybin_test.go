package pgsink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/serde/avro"
)

// pgTypeName is the pgtype name of a column type the sink creates.
func pgTypeName(t *testing.T, pgType string) string {
	switch {
	case pgType == "timestamp with time zone":
		return "timestamptz"
	case pgType == "double precision":
		return "float8"
	case pgType == "real":
		return "float4"
	case pgType == "bigint":
		return "int8"
	case pgType == "integer":
		return "int4"
	case pgType == "boolean":
		return "bool"
	case strings.HasPrefix(pgType, "numeric"):
		return "numeric"
	case pgType == "text", pgType == "bytea", pgType == "date":
		return pgType
	}
	t.Fatalf("no binary encoding for %s", pgType)
	return ""
}

// pgxFields is what pgx writes in a binary COPY for vals (the sink's
// fallback, and the reference for the direct transcoder).
func pgxFields(t *testing.T, cols []column, vals []any) []byte {
	m := pgtype.NewMap()
	var out []byte
	for i, c := range cols {
		typ, ok := m.TypeForName(pgTypeName(t, c.pgType))
		if !ok {
			t.Fatalf("pgtype has no %s", c.pgType)
		}
		if vals[i] == nil {
			out = binary.BigEndian.AppendUint32(out, math.MaxUint32)
			continue
		}
		b, err := m.Encode(typ.OID, pgtype.BinaryFormatCode, vals[i], nil)
		if err != nil {
			t.Fatalf("pgx encodes %s %v: %v", c.name, vals[i], err)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// checkAvroCopy: the binary COPY transcoder accepts what the direct
// decoder accepts (or declines to transcode it), and writes exactly the
// bytes pgx writes for the decoded values. FuzzAvroFast runs it on any
// bytes.
func checkAvroCopy(t *testing.T, sh *shape, cols []column, b []byte) {
	vals, derr := decodeAvroFast(sh, b, len(cols))
	enc, eerr := encodeAvroCopy(sh, b, nil)
	if errors.Is(eerr, errNoBinary) {
		if derr != nil {
			t.Fatalf("declined a datum the decoder refuses (%v)", derr)
		}
		return
	}
	if (derr == nil) != (eerr == nil) {
		t.Fatalf("decoder: %v; transcoder: %v", derr, eerr)
	}
	if derr != nil {
		return
	}
	if want := pgxFields(t, cols, vals); !bytes.Equal(enc, want) {
		t.Fatalf("transcoded\n%x\npgx\n%x", enc, want)
	}
	if offs, ok := fieldOffsets(nil, &datum{cols: cols, enc: enc}); !ok || len(offs) != len(cols)+1 {
		t.Fatalf("field offsets %v of %d columns", offs, len(cols))
	}
}

// TestAvroCopyEdges: dates and timestamps at the ends of the ranges are
// transcoded as pgx encodes them, or declined (left to pgx) where the
// arithmetic would overflow.
func TestAvroCopyEdges(t *testing.T) {
	const text = `{"type":"record","name":"T","fields":[
	 {"name":"day","type":{"type":"int","logicalType":"date"}},
	 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
	 {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}}]}`
	s := avro.MustParse(text)
	sh, err := avroShape(s)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := columnsOf(sh, NestedFlatten, "value")
	for _, tc := range []struct {
		name     string
		day      int32
		ms, us   int64
		declined bool
	}{
		{name: "epoch"},
		{name: "before 1970", day: -1, ms: -1, us: -1},
		{name: "PostgreSQL epoch", day: 10957, ms: 946684800000, us: 946684800000000},
		{name: "largest date", day: math.MaxInt32, ms: 1, us: 1},
		{name: "smallest date", day: math.MinInt32, declined: true},
		{name: "millis overflow", ms: math.MaxInt64, declined: true},
		{name: "micros underflow", us: math.MinInt64, declined: true},
		{name: "largest micros", us: math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			b = appendZigzag(b, int64(tc.day))
			b = appendZigzag(b, tc.ms)
			b = appendZigzag(b, tc.us)
			enc, err := encodeAvroCopy(sh, b, nil)
			if tc.declined {
				if !errors.Is(err, errNoBinary) {
					t.Fatalf("got %v, want it declined", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			vals, err := decodeAvroFast(sh, b, len(cols))
			if err != nil {
				t.Fatal(err)
			}
			if want := pgxFields(t, cols, vals); !bytes.Equal(enc, want) {
				t.Fatalf("transcoded\n%x\npgx\n%x", enc, want)
			}
		})
	}
}

func appendZigzag(b []byte, n int64) []byte {
	return binary.AppendUvarint(b, uint64(n<<1^n>>63))
}
