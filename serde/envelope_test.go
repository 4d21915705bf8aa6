package serde

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors of spec/wire-format.md §10.4.
var indexVectors = []struct {
	path []int
	hex  string
}{
	{[]int{0}, "00"},
	{[]int{1}, "02 02"},
	{[]int{0, 0}, "04 00 00"},
	{[]int{0, 2}, "04 00 04"},
	{[]int{2, 0}, "04 04 00"},
	{[]int{1, 0, 3}, "06 02 00 06"},
	{[]int{64}, "02 80 01"},
}

func TestIndexesVectors(t *testing.T) {
	for _, v := range indexVectors {
		want := unhex(t, v.hex)
		if got := AppendIndexes(nil, v.path); !bytes.Equal(got, want) {
			t.Errorf("AppendIndexes(%v) = % x, want % x", v.path, got, want)
		}
		in := append(append([]byte{}, want...), 0xAA)
		path, rest, err := ReadIndexes(nil, in)
		if err != nil {
			t.Errorf("ReadIndexes(% x): %v", want, err)
			continue
		}
		if !equalInts(path, v.path) || !bytes.Equal(rest, []byte{0xAA}) {
			t.Errorf("ReadIndexes(% x) = %v, rest % x", want, path, rest)
		}
	}
	// The long form of [0] must be accepted.
	path, rest, err := ReadIndexes(nil, unhex(t, "02 00 0a"))
	if err != nil || !equalInts(path, []int{0}) || !bytes.Equal(rest, []byte{0x0a}) {
		t.Errorf("long form [0]: %v %v % x", err, path, rest)
	}
}

func TestPrefixVectors(t *testing.T) {
	tests := []struct {
		id  int32
		hex string
	}{
		{7, "00 00 00 00 07"},
		{256, "00 00 00 01 00"},
		{100001, "00 00 01 86 a1"},
		{2147483647, "00 7f ff ff ff"},
	}
	for _, tt := range tests {
		want := unhex(t, tt.hex)
		if got := AppendPrefix(nil, tt.id); !bytes.Equal(got, want) {
			t.Errorf("AppendPrefix(%d) = % x, want % x", tt.id, got, want)
		}
		id, rest, err := ParseIdentity(append(want, 0x54))
		if err != nil || id.Magic != MagicID || id.ID != tt.id || !bytes.Equal(rest, []byte{0x54}) {
			t.Errorf("ParseIdentity(% x) = %+v % x %v", want, id, rest, err)
		}
	}
	// §10.3: Order as path [1] behind id 100001.
	full := unhex(t, "00 00 01 86 a1 02 02 0a 02 41 31 10 ac 02")
	id, rest, err := ParseIdentity(full)
	if err != nil || id.ID != 100001 {
		t.Fatal(id, err)
	}
	path, datum, err := ReadIndexes(nil, rest)
	if err != nil || !equalInts(path, []int{1}) || !bytes.Equal(datum, unhex(t, "0a 02 41 31 10 ac 02")) {
		t.Errorf("protobuf vector: %v % x %v", path, datum, err)
	}
}

func TestGUIDVector(t *testing.T) {
	// §10.7 header value for a Protobuf value with path [1].
	want := unhex(t, "01 12 3e 45 67 e8 9b 12 d3 a4 56 42 66 14 17 40 00 02 02")
	var guid [16]byte
	copy(guid[:], unhex(t, "123e4567e89b12d3a456426614174000"))
	got := AppendIndexes(AppendGUID(nil, guid), []int{1})
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
	id, rest, err := ParseIdentity(got)
	if err != nil || id.Magic != MagicGUID || id.GUID != guid {
		t.Fatal(id, err)
	}
	if s := id.String(); s != "guid 123e4567-e89b-12d3-a456-426614174000" {
		t.Errorf("String() = %q", s)
	}
	if path, _, err := ReadIndexes(nil, rest); err != nil || !equalInts(path, []int{1}) {
		t.Errorf("path %v %v", path, err)
	}
}

// Inputs a reader must reject (§10.9 and §3.3), with the stable part of each message.
func TestRejects(t *testing.T) {
	identity := []struct{ name, hex, want string }{
		{"unknown magic", "02 00 00 00 07 00", "unknown magic byte 0x02"},
		{"short id", "00 00 00 07", "need 5 bytes"},
		{"empty", "", "no magic byte"},
		{"short guid", "01 12 3e", "need 17 bytes"},
		{"zero id", "00 00 00 00 00", "not positive"},
		{"negative id", "00 ff ff ff ff", "not positive"},
	}
	for _, tt := range identity {
		_, _, err := ParseIdentity(unhex(t, tt.hex))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	indexes := []struct{ name, hex, want string }{
		{"absent", "", "message indexes absent"},
		{"negative count", "01 0a", "negative"},
		{"negative index", "02 01", "negative"},
		{"truncated index", "04 00", "message index 1 truncated"},
		{"overlong varint", "80 80 80 80 80 01", "longer than 5 bytes"},
		{"too big", "80 80 80 80 10", "exceeds"},
		{"too deep", "82 01", "maximum depth"},
	}
	for _, tt := range indexes {
		_, _, err := ReadIndexes(nil, unhex(t, tt.hex))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestReadIndexesNoAlloc(t *testing.T) {
	buf := make([]int, 0, 8)
	in := unhex(t, "06 02 00 06 0a")
	if n := testing.AllocsPerRun(100, func() { buf, _, _ = ReadIndexes(buf, in) }); n != 0 {
		t.Errorf("ReadIndexes allocates %v times per call with a reused buffer", n)
	}
}

func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{"0000000007540641646100", "00000186a102020a024131", "01123e4567e89b12d3a4564266141740000202", "02", "0000000007", "00000000070180"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, rest, err := ParseIdentity(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		// Re-encoding what was read gives back the consumed bytes.
		var enc []byte
		if id.Magic == MagicID {
			enc = AppendPrefix(nil, id.ID)
		} else {
			enc = AppendGUID(nil, id.GUID)
		}
		if !bytes.Equal(enc, b[:len(b)-len(rest)]) {
			t.Fatalf("identity round trip: % x vs % x", enc, b[:len(b)-len(rest)])
		}
		path, after, err := ReadIndexes(nil, rest)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		if len(path) == 0 || len(path) > MaxIndexDepth {
			t.Fatalf("path length %d", len(path))
		}
		for _, i := range path {
			if i < 0 {
				t.Fatalf("negative index in %v", path)
			}
		}
		// The canonical encoding of the path reads back to the same path.
		again, tail, err := ReadIndexes(nil, append(AppendIndexes(nil, path), after...))
		if err != nil || !equalInts(again, path) || !bytes.Equal(tail, after) {
			t.Fatalf("path round trip: %v -> %v (%v)", path, again, err)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
