package shared

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log"
)

func testObject(t testing.TB) ([]byte, []objectBatch) {
	t.Helper()
	w := newObjectWriter(0)
	for i, s := range []struct {
		topic string
		part  int32
		n     int
	}{{"a", 0, 2}, {"a", 0, 1}, {"a", 1, 3}, {"topic-b", 7, 1}} {
		b, err := log.EncodeBatch(recs("o", i*10, s.n), 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.add(s.topic, s.part, b, kindPlain)
	}
	return w.finish(), w.batches
}

func TestObjectRoundTrip(t *testing.T) {
	data, want := testObject(t)
	got, err := parseObject(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("batch %d: %+v, want %+v", i, got[i], want[i])
		}
		raw := data[got[i].Off : got[i].Off+got[i].Len]
		if binary.BigEndian.Uint64(raw) != 0 {
			t.Fatalf("batch %d: baseOffset is not 0 in the object", i)
		}
		if _, _, err := log.ParseBatch(bytes.Clone(raw), nil, nil); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

func TestObjectCorrupt(t *testing.T) {
	data, _ := testObject(t)
	cases := map[string]func([]byte) []byte{
		"short":          func(b []byte) []byte { return b[:10] },
		"magic":          func(b []byte) []byte { b[0] = 'X'; return b },
		"version":        func(b []byte) []byte { b[5] = 9; return b },
		"trailer magic":  func(b []byte) []byte { b[len(b)-1] = 'X'; return b },
		"footer crc":     func(b []byte) []byte { b[len(b)-25] ^= 1; return b },
		"footer offset":  func(b []byte) []byte { binary.BigEndian.PutUint64(b[len(b)-20:], 3); return b },
		"truncated tail": func(b []byte) []byte { return b[:len(b)-1] },
		"batch bytes": func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[objectHeader+8:], 5) // batchLength of the first batch
			return b
		},
	}
	for name, mangle := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseObject(mangle(bytes.Clone(data)))
			if !errors.Is(err, ErrCorruptObject) {
				t.Fatalf("err %v, want ErrCorruptObject", err)
			}
		})
	}
}

func FuzzParseObject(f *testing.F) {
	data, _ := testObject(f)
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Add([]byte("SLWO\x00\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := parseObject(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptObject) {
				t.Fatalf("error %v does not wrap ErrCorruptObject", err)
			}
			return
		}
		for _, x := range bs {
			if x.Off < objectHeader || x.Len <= 0 || x.Off+x.Len > int64(len(b)) {
				t.Fatalf("accepted batch %+v outside %d bytes", x, len(b))
			}
		}
	})
}

// A writer whose hint left no room for a long footer grows once, to the
// object's size, rather than doubling.
func TestObjectWriterGrowsOnceForTheFooter(t *testing.T) {
	var batches []*log.Batch
	size := 0
	for i := range 40 {
		b, err := log.EncodeBatch(recs("g", i, 1), 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		batches, size = append(batches, b), size+b.Len()
	}
	w := newObjectWriter(size) // room for the batches and 256 bytes: 40 entries need 1,520
	for _, b := range batches {
		w.add("grow", 3, b, kindPlain)
	}
	data := w.finish()
	if cap(data) != len(data) {
		t.Errorf("object of %d bytes in a buffer of %d", len(data), cap(data))
	}
	got, err := parseObject(data)
	if err != nil || len(got) != 40 {
		t.Fatalf("%d batches, %v", len(got), err)
	}
}
