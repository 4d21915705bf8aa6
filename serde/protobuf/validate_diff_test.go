package protobuf

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// decodes reports whether protobuf-go decodes b as the message at path with
// every required field set: the reference the walker must never be more
// lenient than.
func decodes(t testing.TB, s *Schema, path []int, b []byte) error {
	t.Helper()
	md, err := s.MessageByIndexes(path)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{}).Unmarshal(b, m); err != nil {
		return err
	}
	return proto.CheckInitialized(m)
}

// diffSeed is one valid payload of the differential corpus.
type diffSeed struct {
	schema string
	path   []int
	data   []byte
}

func diffSeeds(t testing.TB) []diffSeed {
	var seeds []diffSeed
	for _, c := range validateCases {
		seeds = append(seeds, diffSeed{c.schema, c.path, hx(c.data)})
	}
	rec := validateSchema(t, "record.proto")
	seeds = append(seeds, diffSeed{"record.proto", recordPath, recordBytes(t, rec)})
	o3 := validateSchema(t, "order3.proto")
	seeds = append(seeds, diffSeed{"order3.proto", []int{1}, fromJSON(t, o3, []int{1},
		`{"id":"héllo","amount":"-5","lines":[{"sku":"a","qty":-1},{"sku":"€"}],"codes":[1,-2,300],
		  "attrs":{"k":"v","x":""},"price":1.5,"weights":[1,2],"kind":"KIND_UNSPECIFIED","raw":"AAE=","ref":""}`)})
	o2 := validateSchema(t, "order2.proto")
	seeds = append(seeds, diffSeed{"order2.proto", nil, fromJSON(t, o2, nil,
		`{"id":"a","amount":"7","lines":[{"sku":"s","qty":1}],"codes":[1,2],"stamps":["5","6"],
		  "bySku":{"s":{"sku":"s"}},"meta":{"k":"x","v":3},"kind":"KIND_B","raw":"/w==","f":0.5,
		  "parent":{"id":"p","parent":{"id":"q"}},"note":"n"}`)})
	// Unknown fields of every wire type, and an unknown group holding more.
	var unk []byte
	unk = append(unk, hx("0a 01 61")...)
	unk = protowire.AppendTag(unk, 100, protowire.VarintType)
	unk = protowire.AppendVarint(unk, 1<<40)
	unk = protowire.AppendTag(unk, 101, protowire.Fixed32Type)
	unk = protowire.AppendFixed32(unk, 7)
	unk = protowire.AppendTag(unk, 102, protowire.Fixed64Type)
	unk = protowire.AppendFixed64(unk, 7)
	unk = protowire.AppendTag(unk, 103, protowire.BytesType)
	unk = protowire.AppendBytes(unk, []byte{0xff, 0xfe})
	unk = append(unk, tag(104, protowire.StartGroupType)...)
	unk = append(unk, tag(1, protowire.VarintType)...)
	unk = append(unk, 5)
	unk = append(unk, tag(105, protowire.StartGroupType)...)
	unk = append(unk, tag(105, protowire.EndGroupType)...)
	unk = append(unk, tag(104, protowire.EndGroupType)...)
	seeds = append(seeds, diffSeed{"order2.proto", nil, unk})
	var valid []diffSeed
	for _, sd := range seeds {
		if validateSchema(t, sd.schema).ValidateMessage(sd.path, sd.data) == nil {
			valid = append(valid, sd)
		}
	}
	return valid
}

// corruptions derives broken variants of b: truncations, byte changes,
// deletions and insertions at every position.
func corruptions(b []byte) [][]byte {
	var out [][]byte
	for i := range b {
		out = append(out, b[:i])
		for _, v := range []byte{0x00, 0xff, 0x80, b[i] ^ 0x80, b[i] + 1, b[i] - 1, b[i] ^ 0x07} {
			c := bytes.Clone(b)
			c[i] = v
			out = append(out, c)
		}
		out = append(out, append(bytes.Clone(b[:i]), b[i+1:]...))
		out = append(out, append(append(bytes.Clone(b[:i]), 0x80), b[i:]...))
	}
	return out
}

// TestValidateMessageDifferential: whatever the walker accepts, protobuf-go
// decodes with its required fields set, over valid payloads and thousands
// of corruptions of them.
func TestValidateMessageDifferential(t *testing.T) {
	schemas := map[string]*Schema{}
	accepted, refused, stricter := 0, 0, 0
	for _, sd := range diffSeeds(t) {
		s := schemas[sd.schema]
		if s == nil {
			s = validateSchema(t, sd.schema)
			schemas[sd.schema] = s
		}
		for _, b := range append([][]byte{sd.data}, corruptions(sd.data)...) {
			werr := s.ValidateMessage(sd.path, b)
			derr := decodes(t, s, sd.path, b)
			switch {
			case werr == nil && derr != nil:
				t.Errorf("%s %v: walker accepts % x, protobuf-go refuses: %v", sd.schema, sd.path, b, derr)
			case werr == nil:
				accepted++
			case derr == nil:
				stricter++ // wire-type mismatches, editions UTF-8, depth
			default:
				refused++
			}
		}
	}
	t.Logf("accepted by both %d, refused by both %d, refused by the walker only %d", accepted, refused, stricter)
	if accepted == 0 || refused == 0 {
		t.Error("the corpus does not exercise both outcomes")
	}
}

// FuzzValidateMessage: the walker never panics, and what it accepts
// protobuf-go decodes, for each test schema's messages.
func FuzzValidateMessage(f *testing.F) {
	names := []string{"order2.proto", "order3.proto", "editions.proto", "record.proto"}
	schemas := make([]*Schema, len(names))
	for i, n := range names {
		schemas[i] = validateSchema(f, n)
	}
	index := map[string]byte{}
	for i, n := range names {
		index[n] = byte(i)
	}
	for _, sd := range diffSeeds(f) {
		p := byte(0)
		if len(sd.path) > 0 {
			p = byte(sd.path[0])
		}
		f.Add(index[sd.schema], p, sd.data)
	}
	f.Fuzz(func(t *testing.T, which, msg byte, b []byte) {
		s := schemas[int(which)%len(schemas)]
		top := s.File().Messages().Len()
		path := []int{int(msg) % top}
		if s.ValidateMessage(path, b) != nil {
			return
		}
		if err := decodes(t, s, path, b); err != nil {
			t.Fatalf("walker accepts % x as %v, protobuf-go refuses: %v", b, path, err)
		}
	})
}

func BenchmarkValidateRecord(b *testing.B) {
	s := validateSchema(b, "record.proto")
	data := recordBytes(b, s)
	md, _ := s.MessageByIndexes(recordPath)
	b.Run("walker", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := s.ValidateMessage(recordPath, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dynamicpb", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(data, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
