package log

import (
	"bytes"
	"math"
	"testing"
)

func TestIndexBuilderAndLookup(t *testing.T) {
	t.Parallel()
	ib := newIndexBuilder(100)
	// Batches of 60 bytes, 3 records each, timestamps 10, 20, ... with one
	// step back.
	var pos int64
	for i := range 10 {
		ts := int64(10 * (i + 1))
		if i == 6 {
			ts = 5
		}
		h := batchHeader{BaseOffset: 1000 + int64(3*i), Length: 60 - logOverhead, LastOffsetDelta: 2, MaxTimestamp: ts}
		ib.add(1000, h, pos)
		pos += 60
	}
	// An entry lands on the first batch 100+ bytes after the previous
	// entry's batch: batches 2, 4, 6, 8.
	want := []indexEntry{{rel: 6, pos: 120, ts: 20}, {rel: 12, pos: 240, ts: 40}, {rel: 18, pos: 360, ts: 60}, {rel: 24, pos: 480, ts: 80}}
	if !equalEntries(ib.entries, want) {
		t.Fatalf("entries = %v, want %v", ib.entries, want)
	}
	if ib.size != 600 || ib.maxTs != 100 {
		t.Fatalf("size %d maxTs %d", ib.size, ib.maxTs)
	}
	offsetTests := []struct{ off, pos, base int64 }{
		{0, 0, 1000}, {1000, 0, 1000}, {1005, 0, 1000}, {1006, 120, 1006}, {1011, 120, 1006},
		{1012, 240, 1012}, {1024, 480, 1024}, {5000, 480, 1024},
	}
	for _, tt := range offsetTests {
		if pos, base := lookupOffset(ib.entries, 1000, tt.off); pos != tt.pos || base != tt.base {
			t.Errorf("lookupOffset(%d) = %d, %d; want %d, %d", tt.off, pos, base, tt.pos, tt.base)
		}
	}
	timeTests := []struct{ ts, pos int64 }{
		{0, 0}, {20, 0}, {21, 120}, {41, 240}, {60, 240}, {61, 360}, {80, 360}, {81, 480}, {math.MaxInt64, 480},
	}
	for _, tt := range timeTests {
		if pos, _ := lookupTime(ib.entries, 1000, tt.ts); pos != tt.pos {
			t.Errorf("lookupTime(%d) = %d, want %d", tt.ts, pos, tt.pos)
		}
	}
	// Round trip through the files.
	got, err := decodeIndexes(encodeOffsetIndex(1000, ib.entries), encodeTimeIndex(1000, ib.entries), 1000, 600)
	if err != nil || !equalEntries(got, ib.entries) {
		t.Fatalf("decode(encode) = %v, %v", got, err)
	}
}

// FuzzIndex feeds arbitrary index files to the index reader: it must never
// panic, and whatever it accepts must be a valid index that encodes back to
// the same bytes and gives consistent lookups.
func FuzzIndex(f *testing.F) {
	entries := []indexEntry{{rel: 3, pos: 100, ts: 5}, {rel: 9, pos: 400, ts: 5}, {rel: 20, pos: 900, ts: 70}}
	f.Add(encodeOffsetIndex(7, entries), encodeTimeIndex(7, entries), int64(1000), int64(15))
	f.Add(encodeOffsetIndex(7, nil), encodeTimeIndex(7, nil), int64(0), int64(0))
	f.Add([]byte("SLOI"), []byte{}, int64(10), int64(-1))
	f.Fuzz(func(t *testing.T, ob, tb []byte, size, probe int64) {
		got, err := decodeIndexes(ob, tb, 7, size)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeOffsetIndex(7, got), ob) || !bytes.Equal(encodeTimeIndex(7, got), tb) {
			t.Fatalf("accepted index does not re-encode to its bytes")
		}
		for i, e := range got {
			if int64(e.pos) >= size || e.pos == 0 || e.rel == 0 {
				t.Fatalf("entry %d %+v out of bounds (size %d)", i, e, size)
			}
			if i > 0 && (e.rel <= got[i-1].rel || e.pos <= got[i-1].pos || e.ts < got[i-1].ts) {
				t.Fatalf("entry %d %+v does not follow %+v", i, e, got[i-1])
			}
		}
		pos, base := lookupOffset(got, 7, probe)
		if base > max(probe, 7) || (pos == 0) != (base == 7) {
			t.Fatalf("lookupOffset(%d) = %d, %d", probe, pos, base)
		}
		for _, e := range got {
			if b := 7 + int64(e.rel); b <= probe && b > base {
				t.Fatalf("lookupOffset(%d) = base %d, but entry at %d is closer", probe, base, b)
			}
		}
		tpos, _ := lookupTime(got, 7, probe)
		for _, e := range got {
			if e.ts < probe && int64(e.pos) > tpos {
				t.Fatalf("lookupTime(%d) = %d, but entry %+v qualifies later", probe, tpos, e)
			}
		}
	})
}
