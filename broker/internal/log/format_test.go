package log

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), string(got))
}

func encode(t testing.TB, base int64, recs []Record) []byte {
	t.Helper()
	b, _, err := appendBatch(nil, base, recs, true, 0, 1_000, limits{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatchLayout(t *testing.T) {
	t.Parallel()
	recs := []Record{
		{Key: []byte("key"), Value: []byte("value"), Timestamp: 1_700_000_000_000, Headers: []Header{{Key: "h", Value: []byte("v")}}},
		{Key: nil, Value: nil, Timestamp: 1_700_000_000_005},
	}
	b := encode(t, 42, recs)
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want int64
	}{
		{"baseOffset", int64(be.Uint64(b[0:])), 42},
		{"batchLength", int64(be.Uint32(b[8:])), int64(len(b) - 12)},
		{"partitionLeaderEpoch", int64(be.Uint32(b[12:])), 0},
		{"magic", int64(b[16]), 2},
		{"crc", int64(be.Uint32(b[17:])), int64(crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))},
		{"attributes", int64(be.Uint16(b[21:])), 0},
		{"lastOffsetDelta", int64(be.Uint32(b[23:])), 1},
		{"baseTimestamp", int64(be.Uint64(b[27:])), 1_700_000_000_000},
		{"maxTimestamp", int64(be.Uint64(b[35:])), 1_700_000_000_005},
		{"producerId", int64(be.Uint64(b[43:])), -1},
		{"producerEpoch", int64(int16(be.Uint16(b[51:]))), -1},
		{"baseSequence", int64(int32(be.Uint32(b[53:]))), -1},
		{"recordCount", int64(be.Uint32(b[57:])), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	// The first record, byte by byte: length 18 (zigzag 36), attributes,
	// timestampDelta 0, offsetDelta 0, key "key", value "value", 1 header.
	wantRec := []byte{36, 0, 0, 0, 6, 'k', 'e', 'y', 10, 'v', 'a', 'l', 'u', 'e', 2, 2, 'h', 2, 'v'}
	if got := b[61 : 61+len(wantRec)]; !bytes.Equal(got, wantRec) {
		t.Errorf("first record = % x, want % x", got, wantRec)
	}
	checkGolden(t, "batch.hex", []byte(hex.Dump(b)))
}

func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		base      int64
		recs      []Record
		dense     bool
		lastDelta int32
	}{
		{name: "one", recs: []Record{kv("a", "b")}, dense: true},
		{name: "nulls and empties", base: 7, dense: true, recs: []Record{
			{}, {Key: []byte{}, Value: []byte{}}, {Key: []byte("k")}, {Value: []byte("v")},
		}},
		{name: "headers", dense: true, recs: []Record{{Key: []byte("k"), Headers: []Header{{Key: "", Value: nil}, {Key: "x", Value: []byte{}}, {Key: "y", Value: []byte{0, 1}}}}}},
		{name: "timestamps go back", dense: true, recs: []Record{{Timestamp: 5000}, {Timestamp: 10}, {Timestamp: -3}}},
		{name: "compacted gaps", base: 100, lastDelta: 9, recs: []Record{
			{Offset: 101, Key: []byte("a")}, {Offset: 104, Key: []byte("b")}, {Offset: 108, Key: []byte("c")},
		}},
		{name: "big offsets", base: 1<<62 - 5, dense: true, recs: numbered(0, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, info, err := appendBatch([]byte("prefix"), tt.base, tt.recs, tt.dense, tt.lastDelta, 1_000, limits{})
			if err != nil {
				t.Fatal(err)
			}
			b = b[len("prefix"):]
			got, h, err := decodeBatch(nil, b, tt.dense)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.recs
			if tt.dense {
				want = withOffsets(tt.base, tt.recs)
			}
			for i := range want {
				if want[i].Timestamp == 0 {
					want[i].Timestamp = 1_000
				}
			}
			sameRecords(t, got, want)
			if h.MaxTimestamp != info.maxTs || h.BaseOffset != tt.base || h.LastOffsetDelta != info.lastDelt {
				t.Errorf("header %+v does not match info %+v", h, info)
			}
		})
	}
}

// TestDecodeErrors checks the message for each kind of damage against a
// golden file: they are what an operator reads after a bad disk.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	good := encode(t, 10, []Record{kv("a", "b"), kv("c", "d")})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crcTable))
		return b
	}
	tests := []struct {
		name  string
		b     []byte
		dense bool
	}{
		{"short header", good[:30], false},
		{"bad magic", mut(func(b []byte) []byte { b[16] = 1; return b }), false},
		{"length too small", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 10); return b }), false},
		{"length mismatch", mut(func(b []byte) []byte { return append(b, 0) }), false},
		{"crc flip", mut(func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }), false},
		{"compressed", mut(func(b []byte) []byte { b[22] = 1; return recrc(b) }), false},
		{"unknown attribute", mut(func(b []byte) []byte { b[21] = 0x01; return recrc(b) }), false},
		{"zero records", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 0); return recrc(b) }), false},
		{"too many records", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 1000)
			binary.BigEndian.PutUint32(b[23:], 999)
			return recrc(b)
		}), false},
		{"negative base offset", mut(func(b []byte) []byte { b[0] = 0x80; return b }), false},
		{"record length overruns", mut(func(b []byte) []byte { b[61] = 100; return recrc(b) }), false},
		{"key length overruns", mut(func(b []byte) []byte { b[65] = 40; return recrc(b) }), false},
		{"not dense", mut(func(b []byte) []byte { b[64] = 2; return recrc(b) }), true},
		{"offsets go back", mut(func(b []byte) []byte {
			// second record's offsetDelta 1 -> 0
			i := 61 + 1 + int(b[61]/2)
			b[i+3] = 0
			return recrc(b)
		}), false},
		{"last delta mismatch", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[23:], 5); return recrc(b) }), true},
		{"trailing bytes", func() []byte {
			b := bytes.Clone(good)
			b = append(b, 0, 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			return recrc(b)
		}(), false},
	}
	var out strings.Builder
	for _, tt := range tests {
		_, _, err := decodeBatch(nil, tt.b, tt.dense)
		if err == nil {
			t.Errorf("%s: decoded without error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), ErrCorrupt.Error()) {
			t.Errorf("%s: %v is not marked corrupt", tt.name, err)
		}
		fmt.Fprintf(&out, "%s: %v\n", tt.name, err)
	}
	checkGolden(t, "decode_errors.golden", []byte(out.String()))
}

// FuzzDecodeBatch feeds arbitrary bytes to the decoder, which must never
// panic, and must decode what it accepted the same way after re-encoding.
// The same bytes also seed records that must survive encode then decode.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encode(f, 0, []Record{kv("a", "b")}))
	f.Add(encode(f, 5, []Record{{}, {Key: []byte{}, Value: []byte{}, Headers: []Header{{Key: "h"}}}}))
	b, _, _ := appendBatch(nil, 100, []Record{{Offset: 102, Key: []byte("x")}}, false, 7, 9, limits{})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, h, err := decodeBatch(nil, data, false)
		// The ReadFunc form (headers in a reused slab, keys aliasing data)
		// decodes the same, or fails the same.
		slab := make([]Header, 0, 1)
		recs2, _, err2 := decodeBatchInto(nil, data, false, &slab)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("decodeBatch says %v, decodeBatchInto %v", err, err2)
		}
		if err == nil {
			sameRecords(t, recs2, recs)
		}
		if err == nil {
			re, _, err := appendBatch(nil, h.BaseOffset, recs, false, h.LastOffsetDelta, 0, limits{})
			if err != nil {
				t.Fatalf("re-encode of decoded batch: %v", err)
			}
			again, h2, err := decodeBatch(nil, re, false)
			if err != nil {
				t.Fatalf("decode of re-encoded batch: %v", err)
			}
			sameRecords(t, again, recs)
			if h2.BaseOffset != h.BaseOffset || h2.LastOffsetDelta != h.LastOffsetDelta || h2.Count != h.Count {
				t.Fatalf("header changed: %+v vs %+v", h2, h)
			}
		}
		// Structured direction: carve records out of data.
		var in []Record
		for i, rest := 0, data; len(rest) > 0 && i < 50; i++ {
			n := int(rest[0]) % (len(rest))
			chunk := rest[1 : 1+n/2+min(n/2, len(rest)-1-n/2)]
			r := Record{Timestamp: int64(rest[0]) - 100}
			switch rest[0] % 4 {
			case 0:
				r.Key = chunk
			case 1:
				r.Value = chunk
			case 2:
				r.Key, r.Value = chunk[:len(chunk)/2], chunk[len(chunk)/2:]
				r.Headers = []Header{{Key: string(chunk), Value: nil}}
			case 3:
				r.Headers = []Header{{Key: "", Value: chunk}}
			}
			in = append(in, r)
			rest = rest[1+len(chunk):]
		}
		if len(in) == 0 {
			return
		}
		enc, _, err := appendBatch(nil, 3, in, true, 0, 77, limits{})
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := decodeBatch(nil, enc, true)
		if err != nil {
			t.Fatalf("decode of fresh batch: %v", err)
		}
		want := withOffsets(3, in)
		for i := range want {
			if want[i].Timestamp == 0 {
				want[i].Timestamp = 77
			}
		}
		sameRecords(t, out, want)
	})
}

// TestDecodeKafkaBatch decodes a batch written by Apache Kafka (a
// one-record produce of "Hello Kafka!", as published in the
// samuel-cavalcanti/kafka_rewritten test fixtures): an independent check of
// our CRC-32C and varint reading. Only the producer fields differ from what
// we write (that producer was idempotent).
func TestDecodeKafkaBatch(t *testing.T) {
	t.Parallel()
	b, err := hex.DecodeString("0000000000000000000000440000000002abfd049100000000000000000191e05b6d8b00000191e05b6d8b00000000000000000000000000000000000124000000011848656c6c6f204b61666b612100")
	if err != nil {
		t.Fatal(err)
	}
	recs, h, err := decodeBatch(nil, b, true)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, recs, []Record{{Offset: 0, Timestamp: 1726045973899, Key: nil, Value: []byte("Hello Kafka!")}})
	if h.ProducerID != 0 || h.Count != 1 {
		t.Errorf("header = %+v", h)
	}
	// Our encoding of the same record differs only in the producer fields
	// (and so the CRC).
	ours := encode(t, 0, []Record{{Timestamp: 1726045973899, Value: []byte("Hello Kafka!")}})
	if !bytes.Equal(ours[:17], b[:17]) || !bytes.Equal(ours[21:43], b[21:43]) || !bytes.Equal(ours[57:], b[57:]) {
		t.Errorf("our batch differs outside the producer fields:\nours   % x\nkafka  % x", ours, b)
	}
}

func TestRecordBodySize(t *testing.T) {
	t.Parallel()
	recs := []Record{
		{}, {Key: []byte{}, Value: []byte{}},
		{Key: bytes.Repeat([]byte("k"), 200), Value: bytes.Repeat([]byte("v"), 70000), Headers: []Header{{Key: "a"}, {Key: strings.Repeat("h", 130), Value: []byte{}}}},
	}
	for i := range recs {
		for _, d := range []int64{0, -1, 63, 64, -65, 1 << 40, math.MinInt64, math.MaxInt64} {
			if got, want := recordBodySize(&recs[i], d, d), len(appendRecordBody(nil, &recs[i], d, d)); got != want {
				t.Errorf("record %d delta %d: size %d, encoded %d", i, d, got, want)
			}
		}
	}
}
