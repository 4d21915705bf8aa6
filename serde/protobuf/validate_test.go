package protobuf

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
)

// validateSchema parses testdata/validate/<name>.
func validateSchema(t testing.TB, name string) *Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "validate", name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(b))
}

// hx decodes hex written with spaces between the bytes.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// fromJSON encodes the message at path from its protojson form.
func fromJSON(t testing.TB, s *Schema, path []int, js string) []byte {
	t.Helper()
	md, err := s.MessageByIndexes(path)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

type validateCase struct {
	name   string
	schema string // file under testdata/validate
	path   []int
	data   string // hex
	// wantPath is the DatumError path expected, or "-" for a valid value.
	wantPath string
}

var validateCases = []validateCase{
	// Spec vectors (wire-format.md §10.3): the datum after the envelope.
	{"spec 10.3 Order", "order3.proto", []int{1}, "0a 02 41 31 10 ac 02", "-"},
	{"spec 10.3 Envelope has no fields: all unknown", "order3.proto", nil, "0a 02 41 31 10 ac 02", "-"},
	{"Order.Line is [1,1]: the map entry of attrs is [1,0]", "order3.proto", []int{1, 1}, "0a 02 41 31 10 ac 02", "-"},
	{"map entry as a message: value must be a string", "order3.proto", []int{1, 0}, "0a 02 41 31 10 ac 02", "/value"},
	{"empty message", "order3.proto", []int{1}, "", "-"},

	// proto3 scalars, packed and unpacked.
	{"packed sint32", "order3.proto", []int{1}, "22 03 01 02 03", "-"},
	{"unpacked sint32", "order3.proto", []int{1}, "20 01 20 02", "-"},
	{"packed double", "order3.proto", []int{1}, "3a 08 00 00 00 00 00 00 f0 3f", "-"},
	{"unpacked double", "order3.proto", []int{1}, "39 00 00 00 00 00 00 f0 3f", "-"},
	{"packed double run not a multiple of 8", "order3.proto", []int{1}, "3a 07 00 00 00 00 00 00 f0", "/weights"},
	{"packed varint cut off", "order3.proto", []int{1}, "22 02 01 80", "/codes"},
	{"enum value unknown is fine", "order3.proto", []int{1}, "40 e3 0f", "-"},
	{"10-byte varint", "order3.proto", []int{1}, "10 ff ff ff ff ff ff ff ff ff 01", "-"},
	{"11-byte varint", "order3.proto", []int{1}, "10 ff ff ff ff ff ff ff ff ff ff 01", "/amount"},
	{"10th varint byte overflows", "order3.proto", []int{1}, "10 ff ff ff ff ff ff ff ff ff 02", "/amount"},
	{"varint cut off", "order3.proto", []int{1}, "10 ac", "/amount"},
	{"fixed64 cut off", "order3.proto", []int{1}, "31 00 00 00", "/price"},

	// Wire types.
	{"string sent as varint", "order3.proto", []int{1}, "08 01", "/id"},
	{"int64 sent as length-delimited", "order3.proto", []int{1}, "12 01 00", "/amount"},
	{"message sent as group", "order3.proto", []int{1}, "1b 1c", "/lines/0"},
	{"wire type 6", "order3.proto", []int{1}, "0e", "/id"},
	{"wire type 7 on an unknown field", "order3.proto", []int{1}, "ff 01", "/"},
	{"field number 0", "order3.proto", []int{1}, "00 01", "/"},
	{"field number too large", "order3.proto", []int{1}, "f8 ff ff ff 7f 00", "/"},
	{"largest field number, unknown", "order3.proto", []int{1}, "f8 ff ff ff 0f 00", "-"},
	{"stray end group", "order3.proto", []int{1}, "0c", "/"},

	// Lengths.
	{"length overruns", "order3.proto", []int{1}, "0a 05 41 31", "/id"},
	{"nested length overruns its parent", "order3.proto", []int{1}, "1a 03 0a 05 41 31 41 41", "/lines/0/sku"},
	{"huge length", "order3.proto", []int{1}, "0a ff ff ff ff ff ff ff ff 7f", "/id"},
	{"unknown field length overruns", "order3.proto", []int{1}, "5a 09 00", "/"},

	// UTF-8.
	{"proto3 string invalid UTF-8", "order3.proto", []int{1}, "0a 02 c3 28", "/id"},
	{"proto3 bytes any bytes", "order3.proto", []int{1}, "4a 02 c3 28", "-"},
	{"proto3 repeated message string invalid", "order3.proto", []int{1}, "1a 02 0a 00 1a 03 0a 01 ff", "/lines/1/sku"},
	{"proto3 map key invalid UTF-8", "order3.proto", []int{1}, "2a 04 0a 02 c3 28", "/attrs/0/key"},
	{"proto3 map entry", "order3.proto", []int{1}, "2a 06 0a 01 61 12 01 62 2a 00", "-"},
	{"proto3 optional string", "order3.proto", []int{1}, "52 01 61", "-"},
	{"proto2 string any bytes", "order2.proto", []int{0}, "0a 02 c3 28", "-"},
	{"editions checked string", "editions.proto", nil, "0a 01 ff 18 01", "/checked"},
	{"editions unchecked string", "editions.proto", nil, "12 01 ff 18 01", "-"},

	// proto2 required fields, groups, maps.
	{"proto2 required missing", "order2.proto", nil, "10 01", "/"},
	{"proto2 required present", "order2.proto", nil, "0a 01 61", "-"},
	{"proto2 nested required missing", "order2.proto", nil, "0a 01 61 1a 02 10 01", "/lines/0"},
	{"proto2 second line required missing", "order2.proto", nil, "0a 01 61 1a 03 0a 01 78 1a 00", "/lines/1"},
	{"proto2 map value required missing", "order2.proto", nil, "0a 01 61 32 05 0a 01 78 12 00", "/by_sku/0/value"},
	{"proto2 map value absent: an empty Line lacks sku", "order2.proto", nil, "0a 01 61 32 03 0a 01 78", "/by_sku/0"},
	{"proto2 map value complete", "order2.proto", nil, "0a 01 61 32 08 0a 01 78 12 03 0a 01 78", "-"},
	{"proto2 group", "order2.proto", nil, "0a 01 61 3b 42 01 6b 48 05 3c", "-"},
	{"proto2 group required missing", "order2.proto", nil, "0a 01 61 3b 42 01 6b 3c", "/meta"},
	{"proto2 group not closed", "order2.proto", nil, "0a 01 61 3b 48 05", "/meta"},
	{"proto2 group closed by another field", "order2.proto", nil, "0a 01 61 3b 48 05 44", "/meta"},
	{"proto2 unknown group", "order2.proto", nil, "0a 01 61 fb 01 08 01 fc 01", "-"},
	{"proto2 unknown group not closed", "order2.proto", nil, "0a 01 61 fb 01 08 01", "/"},
	{"proto2 unpacked int32", "order2.proto", nil, "0a 01 61 20 01 20 02", "-"},
	{"proto2 packed int32 accepted", "order2.proto", nil, "0a 01 61 22 02 01 02", "-"},
	{"proto2 packed fixed64 wrong length", "order2.proto", nil, "0a 01 61 2a 03 00 00 00", "/stamps"},
	{"proto2 recursive parent missing id", "order2.proto", nil, "0a 01 61 6a 02 10 01", "/parent"},
	{"editions delimited part", "editions.proto", nil, "18 01 23 0a 01 61 24", "-"},
	{"editions legacy required missing", "editions.proto", nil, "0a 01 61", "/"},
}

func TestValidateMessage(t *testing.T) {
	var report strings.Builder
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			s := validateSchema(t, c.schema)
			err := s.ValidateMessage(c.path, hx(c.data))
			if c.wantPath == "-" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var de *serde.DatumError
			if !errors.As(err, &de) || !errors.Is(err, serde.ErrDatum) {
				t.Fatalf("got %v (%T), want a *serde.DatumError", err, err)
			}
			path := de.Path
			if path == "" {
				path = "/"
			}
			if path != c.wantPath {
				t.Errorf("path %q, want %q (%v)", path, c.wantPath, err)
			}
			if de.Offset < 0 || de.Offset > len(hx(c.data)) {
				t.Errorf("offset %d outside the value", de.Offset)
			}
			fmt.Fprintf(&report, "%s: %v\n", c.name, err)
		})
	}
	checkPartialGolden(t, "validate/errors.golden", report.String())
}

// checkPartialGolden is golden.Check of testdata/name, skipped when a -run
// filter left the output partial.
func checkPartialGolden(t *testing.T, name, got string) {
	t.Helper()
	if f := testingRunFilter(); f != "" && f != "TestValidateMessage" && f != "^TestValidateMessage$" {
		return
	}
	golden.Check(t, filepath.Join("testdata", name), got)
}

func TestValidateMessagePath(t *testing.T) {
	s := validateSchema(t, "order3.proto")
	for _, path := range [][]int{{2}, {-1}, {1, 2}, {0, 0, 0}} {
		err := s.ValidateMessage(path, nil)
		if !errors.Is(err, ErrNoSuchMessage) {
			t.Errorf("path %v: got %v, want ErrNoSuchMessage", path, err)
		}
	}
	// [0] and the empty path are the same message.
	for _, path := range [][]int{nil, {}, {0}} {
		if err := s.ValidateMessage(path, hx("0a 00")); err != nil {
			t.Errorf("path %v: %v", path, err)
		}
	}
}

// TestValidateMessageRecord: the 22-field perf record, valid, then every
// truncation refused.
func TestValidateMessageRecord(t *testing.T) {
	s := validateSchema(t, "record.proto")
	b := recordBytes(t, s)
	if err := s.ValidateMessage(recordPath, b); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range b {
		if s.ValidateMessage(recordPath, b[:i]) != nil {
			refused++
		}
	}
	// Cutting exactly at a field boundary leaves a valid (shorter) message;
	// 22 fields plus list elements make at most a few dozen such points.
	if refused < len(b)-60 {
		t.Errorf("only %d of %d truncations refused", refused, len(b))
	}
}

func TestValidateMessageZeroAllocs(t *testing.T) {
	for _, c := range []struct {
		schema string
		path   []int
		data   []byte
	}{
		{"record.proto", recordPath, nil},
		{"order2.proto", nil, hx("0a 01 61 1a 03 0a 01 78 32 08 0a 01 78 12 03 0a 01 78 3b 42 01 6b 48 05 3c fb 01 08 01 fc 01")},
		{"order3.proto", []int{1}, hx("0a 02 41 31 10 ac 02 22 03 01 02 03 2a 06 0a 01 61 12 01 62")},
	} {
		s := validateSchema(t, c.schema)
		if c.data == nil {
			c.data = recordBytes(t, s)
		}
		if err := s.ValidateMessage(c.path, c.data); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(200, func() { _ = s.ValidateMessage(c.path, c.data) }); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.schema, n)
		}
	}
}

func TestValidateMessageConcurrent(t *testing.T) {
	s := validateSchema(t, "record.proto")
	b := recordBytes(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := s.ValidateMessage(recordPath, b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCodec(t *testing.T) {
	s := validateSchema(t, "order3.proto")
	b := fromJSON(t, s, []int{1}, `{"id":"A1","amount":"300","lines":[{"sku":"x","qty":2}],"attrs":{"a":"b"}}`)
	m, err := s.Decode([]int{1}, b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := AppendEncode([]byte{0xff}, m)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != 0xff {
		t.Fatal("AppendEncode did not append")
	}
	back, err := s.Decode([]int{1}, out[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, back) {
		t.Errorf("round trip differs: %v vs %v", m, back)
	}
	if _, err := s.Decode([]int{1}, hx("08 01")); !errors.Is(err, serde.ErrDatum) {
		t.Errorf("Decode of a bad value: %v", err)
	}
	if _, err := s.Decode([]int{7}, nil); !errors.Is(err, ErrNoSuchMessage) {
		t.Errorf("Decode with a bad path: %v", err)
	}
	s2 := validateSchema(t, "order2.proto")
	md, _ := s2.MessageByIndexes(nil)
	if _, err := AppendEncode(nil, dynamicpb.NewMessage(md)); err == nil || !strings.Contains(err.Error(), "t2.v1.Order") {
		t.Errorf("AppendEncode without required fields: %v", err)
	}
}

// recordPath is OrderEvent in record.proto (Address comes first).
var recordPath = []int{1}

const recordJSON = `{
  "eventId": "3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b", "tenantId": "tenant-042",
  "userId": "987654321", "sessionId": "sess-6c1f0e2a7b", "createdAtMs": "1795000000123",
  "eventType": "paid", "amountCents": "129999", "currency": "EUR", "quantity": 3,
  "price": 433.33, "discount": 0.15, "isTest": true, "country": "DE", "city": "Berlin",
  "ip": "203.0.113.42",
  "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "tags": ["promo", "mobile", "returning"],
  "attributes": {"campaign": "winter-sale", "ab_bucket": "B", "channel": "email"},
  "address": {"street": "Friedrichstrasse 123", "zip": "10117", "country": "DE"},
  "payload": "q83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8B",
  "referrer": "https://www.example.com/landing?utm_source=newsletter", "schemaVersion": 3
}`

func recordBytes(t testing.TB, s *Schema) []byte {
	t.Helper()
	return fromJSON(t, s, recordPath, recordJSON)
}

// tag is a helper for hand-built payloads in the differential corpus.
func tag(num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(nil, num, typ)
}

// testingRunFilter is the -run pattern, "" when every test runs.
func testingRunFilter() string {
	if f := flag.Lookup("test.run"); f != nil {
		return f.Value.String()
	}
	return ""
}
