package broker

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/metadb"
)

// fuzzRecords decodes fuzz bytes into produce records: per record a flag
// byte (1: explicit partition from the next byte, signed; 2: key; 4: value;
// 8: a header) followed by lengths and contents.
func fuzzRecords(data []byte) []ProduceRecord {
	var recs []ProduceRecord
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	take := func() []byte {
		n, _ := next()
		n %= 160
		if int(n) > len(data) {
			n = byte(len(data))
		}
		out := data[:n:n]
		data = data[n:]
		return out
	}
	for len(recs) < 64 {
		flags, ok := next()
		if !ok {
			break
		}
		var r ProduceRecord
		if flags&1 != 0 {
			p, _ := next()
			v := int32(int8(p))
			r.Partition = &v
		}
		if flags&2 != 0 {
			r.Key = append([]byte{}, take()...)
		}
		if flags&4 != 0 {
			r.Value = append([]byte{}, take()...)
		}
		if flags&8 != 0 {
			r.Headers = []Header{{Key: string(take()), Value: take()}}
		}
		recs = append(recs, r)
	}
	return recs
}

// FuzzProduce drives Broker.Produce with arbitrary records and checks the
// contract: a refusal is InvalidArgument and appends nothing; an acceptance
// gives one result per record, on a valid partition, at dense offsets, and
// every record reads back byte for byte.
func FuzzProduce(f *testing.F) {
	f.Add([]byte{0x06, 3, 'k', 'e', 'y', 2, 'v', '1'})
	f.Add([]byte{0x05, 2, 1, 'x', 0x05, 0xff, 1, 'y'})
	f.Add([]byte{0x04, 150, 'z'})
	f.Add([]byte{0x0e, 1, 'k', 1, 'v', 2, 'h', 'k', 1, 'x'})
	dir := f.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		f.Fatal(err)
	}
	never, _ := ParseFsyncPolicy("never")
	b, err := Open(context.Background(), Config{DB: db, DataDir: dir, Fsync: never, MaxRequestBytes: 4096, MaintenanceInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close(); db.Close() })
	if _, err := b.CreateTopic(context.Background(), "f", 3, map[string]string{"max.message.bytes": "100"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := fuzzRecords(data)
		t0, _ := b.lookup("f")
		before := make([]int64, 3)
		for i, p := range t0.parts {
			before[i] = p.HighWatermark()
		}
		res, err := b.Produce(context.Background(), "f", recs)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refusal %v is not InvalidArgument", err)
			}
			for i, p := range t0.parts {
				if hw := p.HighWatermark(); hw != before[i] {
					t.Fatalf("refused request appended to partition %d: %d -> %d", i, before[i], hw)
				}
			}
			return
		}
		if len(res) != len(recs) {
			t.Fatalf("%d results for %d records", len(res), len(recs))
		}
		next := append([]int64{}, before...)
		for i, r := range res {
			if r.Partition < 0 || r.Partition > 2 {
				t.Fatalf("record %d on partition %d", i, r.Partition)
			}
			if recs[i].Partition != nil && *recs[i].Partition != r.Partition {
				t.Fatalf("record %d asked for partition %d, got %d", i, *recs[i].Partition, r.Partition)
			}
			if recs[i].Partition == nil && recs[i].Key != nil && r.Partition != keyPartition(recs[i].Key, 3) {
				t.Fatalf("record %d: keyed record on partition %d, want %d", i, r.Partition, keyPartition(recs[i].Key, 3))
			}
			if r.Offset != next[r.Partition] {
				t.Fatalf("record %d: offset %d, want %d", i, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			got, err := t0.parts[r.Partition].Read(r.Offset, 1, 1)
			if err != nil || len(got) == 0 {
				t.Fatalf("record %d: read back: %v", i, err)
			}
			g := got[0]
			if !bytes.Equal(g.Key, recs[i].Key) || (g.Key == nil) != (recs[i].Key == nil) ||
				!bytes.Equal(g.Value, recs[i].Value) || (g.Value == nil) != (recs[i].Value == nil) ||
				len(g.Headers) != len(recs[i].Headers) {
				t.Fatalf("record %d read back as %+v, want %+v", i, g, recs[i])
			}
		}
	})
}
