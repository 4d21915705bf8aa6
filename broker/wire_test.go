package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice/internal/metadb"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// wireSubscribe encodes a SubscribeResponse the way wireChunks does.
func wireSubscribe(p int32, hwm int64, recs []Record) ([]byte, error) {
	c := getChunk(p)
	defer putChunk(c)
	for i := range recs {
		if err := c.add(&recs[i]); err != nil {
			return nil, err
		}
	}
	b := appendVarintField(c.buf, wireSubPartition, uint64(int64(p)))
	return bytes.Clone(appendVarintField(b, wireSubHighWatermark, uint64(hwm))), nil
}

// marshalSubscribe is the reference: the message built the ordinary way,
// through proto.Marshal.
func marshalSubscribe(p int32, hwm int64, recs []Record) ([]byte, error) {
	return proto.Marshal(&brokerv1.SubscribeResponse{Records: recordsToProto(p, recs), Partition: p, HighWatermark: hwm})
}

// wireConsume encodes a ConsumeResponse the way wireConsumeSender gets it.
func wireConsume(topic string, p int32, hwm int64, recs []Record) ([]byte, error) {
	c := getConsumeChunk(topic, p)
	defer putChunk(c)
	for i := range recs {
		if err := c.add(&recs[i]); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(c.finishConsume(topic, hwm)), nil
}

// marshalConsume is the reference for wireConsume: the ConsumeResponse
// that consumeSender.Records sends, through proto.Marshal.
func marshalConsume(topic string, p int32, hwm int64, recs []Record) ([]byte, error) {
	return proto.Marshal(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: &brokerv1.ConsumeRecords{
		Topic: topic, Partition: p, Records: recordsToProto(p, recs), HighWatermark: hwm,
	}}})
}

// checkEncoding encodes recs both ways, as a SubscribeResponse and as a
// ConsumeResponse of topic: both must fail, or give the same bytes.
func checkEncoding(t testing.TB, what string, p int32, hwm int64, recs []Record) {
	t.Helper()
	checkConsumeEncoding(t, what, "orders", p, hwm, recs)
	got, gerr := wireSubscribe(p, hwm, recs)
	want, werr := marshalSubscribe(p, hwm, recs)
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("%s: the wire encoding says %v, proto.Marshal %v", what, gerr, werr)
	}
	if gerr != nil {
		return
	}
	checkSameBytes(t, what, got, want)
}

// checkConsumeEncoding is checkEncoding for a ConsumeResponse.
func checkConsumeEncoding(t testing.TB, what, topic string, p int32, hwm int64, recs []Record) {
	t.Helper()
	got, gerr := wireConsume(topic, p, hwm, recs)
	want, werr := marshalConsume(topic, p, hwm, recs)
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("%s: consume: the wire encoding says %v, proto.Marshal %v", what, gerr, werr)
	}
	if gerr != nil {
		return
	}
	checkSameBytes(t, what+": consume", got, want)
}

// checkSameBytes fails with the first differing byte.
func checkSameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: wire encoding differs from proto.Marshal at byte %d (lengths %d and %d)\ngot  % x\nwant % x",
		what, i, len(got), len(want), got[max(0, i-8):min(len(got), i+16)], want[max(0, i-8):min(len(want), i+16)])
}

// TestWireMatchesProtoMarshal encodes records of every shape both ways.
func TestWireMatchesProtoMarshal(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 300) // a two-byte length
	cases := []struct {
		name string
		p    int32
		hwm  int64
		recs []Record
	}{
		{"no records, zero scalars", 0, 0, nil},
		{"no records", 3, 17, nil},
		{"all zero", 0, 1, []Record{{}}},
		{"null key, null value", 1, 2, []Record{{Offset: 1, Timestamp: 1}}},
		{"empty key, empty value", 1, 2, []Record{{Offset: 1, Timestamp: 1, Key: []byte{}, Value: []byte{}}}},
		{"key and value", 2, 9, []Record{{Offset: 8, Timestamp: 1700000000123, Key: []byte("k"), Value: []byte("value")}}},
		{"whole seconds", 0, 5, []Record{{Offset: 4, Timestamp: 1700000000000, Value: []byte("v")}}},
		{"before 1970", 0, 5, []Record{{Offset: 4, Timestamp: -1, Value: []byte("v")}, {Offset: 5, Timestamp: -1000}, {Offset: 6, Timestamp: -1001}}},
		{"extreme timestamps", 0, 5, []Record{{Timestamp: math.MaxInt64}, {Offset: 1, Timestamp: math.MinInt64}}},
		{"headers", 7, 100, []Record{{Offset: 99, Timestamp: 5, Value: []byte("v"), Headers: []Header{
			{Key: "a", Value: []byte("1")}, {Key: "", Value: []byte("no key")}, {Key: "null"}, {Key: "empty", Value: []byte{}}, {}, {Key: "a", Value: big},
		}}}},
		{"large offsets and values", math.MaxInt32, math.MaxInt64, []Record{{Offset: math.MaxInt64 - 1, Timestamp: 1, Key: big, Value: bytes.Repeat(big, 100)}}},
		{"negative partition", -1, 1, []Record{{Value: []byte("v")}}},
		{"header key not UTF-8", 0, 1, []Record{{Value: []byte("v"), Headers: []Header{{Key: "ok"}, {Key: "\xff"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkEncoding(t, c.name, c.p, c.hwm, c.recs)
		})
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			recs := randomRecords(rng, rng.IntN(50), 2000)
			p, hwm := int32(rng.IntN(1000)), rng.Int64()
			checkEncoding(t, fmt.Sprintf("chunk %d", i), p, hwm, recs)
		}
	})
}

// TestWireConsumeMatchesProtoMarshal covers what only a ConsumeResponse
// has: the topic (absent, short, with a multi-byte length), the enclosing
// length at every width, and random chunks of random topics.
func TestWireConsumeMatchesProtoMarshal(t *testing.T) {
	long := strings.Repeat("t", 249)
	rec := func(size int) []Record {
		return []Record{{Offset: 1, Timestamp: 2, Value: bytes.Repeat([]byte("v"), size)}}
	}
	cases := []struct {
		name  string
		topic string
		p     int32
		hwm   int64
		recs  []Record
	}{
		{"empty message", "", 0, 0, nil},
		{"topic only", "a", 0, 0, nil},
		{"partition and hwm only", "", 5, 9, nil},
		{"long topic", long, 1, 2, rec(10)},
		{"one-byte length", "orders", 3, 4, rec(50)},
		{"two-byte length", "orders", 3, 4, rec(200)},
		{"three-byte length", "orders", 3, 4, rec(20000)},
		{"four-byte length", long, math.MaxInt32, math.MaxInt64, rec(3 << 20)},
		{"negative partition", "x", -1, 1, rec(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkConsumeEncoding(t, c.name, c.topic, c.p, c.hwm, c.recs)
		})
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for i := range 200 {
			recs := randomRecords(rng, rng.IntN(50), 2000)
			topic := strings.Repeat("t", rng.IntN(250))
			p, hwm := int32(rng.IntN(1000)), rng.Int64()
			checkConsumeEncoding(t, fmt.Sprintf("chunk %d", i), topic, p, hwm, recs)
		}
	})
	t.Run("reused chunk", func(t *testing.T) {
		// A pooled chunk that held a longer topic and a bigger message
		// must not leak any of it into the next one.
		for _, topic := range []string{long, "b", ""} {
			checkConsumeEncoding(t, "reuse "+topic, topic, 1, 1, rec(300))
		}
	})
}

// randomRecords makes n records with random presence, sizes (keys, values
// and header values up to maxBlob bytes) and headers (UTF-8 keys).
func randomRecords(rng *rand.Rand, n, maxBlob int) []Record {
	blob := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, rng.IntN(maxBlob))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	recs := make([]Record, n)
	off := rng.Int64N(1 << 40)
	for i := range recs {
		off += 1 + rng.Int64N(3)
		r := &recs[i]
		r.Offset, r.Timestamp = off, rng.Int64N(4e12)-1e12
		r.Key, r.Value = blob(), blob()
		for range rng.IntN(3) {
			r.Headers = append(r.Headers, Header{Key: fmt.Sprintf("h%dé%x", rng.IntN(3), blob()[:0]), Value: blob()})
		}
	}
	return recs
}

// FuzzWireRecords decodes records from the input (a varint-framed
// description of their fields) and checks the wire encoding against
// proto.Marshal.
func FuzzWireRecords(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add(bytes.Repeat([]byte{0xff, 0x80, 0x01, 0x7f}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := fuzzBytes{b: data}
		p, hwm := int32(d.varint()), d.varint()
		var recs []Record
		for len(d.b) > 0 && len(recs) < 64 {
			r := Record{Offset: d.varint(), Timestamp: d.varint(), Key: d.blob(), Value: d.blob()}
			for range d.varint() & 3 {
				r.Headers = append(r.Headers, Header{Key: string(d.blob()), Value: d.blob()})
			}
			recs = append(recs, r)
		}
		checkEncoding(t, "fuzz", p, hwm, recs)
	})
}

// fuzzBytes hands out fuzz input as varints and length-prefixed blobs.
type fuzzBytes struct{ b []byte }

func (d *fuzzBytes) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		if len(d.b) > 0 {
			d.b = d.b[1:]
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

// blob is nil for a negative length, else up to that many bytes.
func (d *fuzzBytes) blob() []byte {
	n := d.varint()
	if n < 0 {
		return nil
	}
	n = min(n, int64(len(d.b)))
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// openWireBroker opens a broker on a temporary directory, without HTTP.
func openWireBroker(t *testing.T) *Broker {
	t.Helper()
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	never, _ := ParseFsyncPolicy("never")
	b, err := Open(context.Background(), Config{DB: db, DataDir: dir, Fsync: never, MaintenanceInterval: -1})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		db.Close()
	})
	return b
}

// TestWireReadMatchesRead stores random records (several batches, several
// segments), then reads every offset with several limits both ways: the
// chunk encoded from the read buffer must be byte for byte the message
// built from Read, and Fetch's wire answer the marshalled FetchResponse.
func TestWireReadMatchesRead(t *testing.T) {
	b := openWireBroker(t)
	ctx := context.Background()
	if _, err := b.CreateTopic(ctx, "w", 2, map[string]string{"segment.bytes": "1048576"}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 80 {
		recs := randomRecords(rng, 1+rng.IntN(20), 8000)
		in := make([]ProduceRecord, len(recs))
		for i, r := range recs {
			in[i] = ProduceRecord{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp, Partition: ptrTo(int32(rng.IntN(2)))}
			if in[i].Timestamp <= 0 {
				in[i].Timestamp = 1 // the log wants a clock value
			}
		}
		if _, err := b.Produce(ctx, "w", in); err != nil {
			t.Fatal(err)
		}
	}
	tp, err := b.lookup("w")
	if err != nil {
		t.Fatal(err)
	}
	for pi := range int32(2) {
		hw := tp.parts[pi].HighWatermark()
		for _, lim := range []struct{ recs, bytes int }{{1, 1}, {7, 1 << 20}, {10000, 5000}, {10000, 16 << 20}} {
			for off := int64(0); off <= hw; off += 1 + rng.Int64N(9) {
				res, err := b.readAt(tp, pi, off, lim.recs, lim.bytes)
				if err != nil {
					t.Fatal(err)
				}
				c := getChunk(pi)
				whwm, _, err := b.readWireAt(tp, pi, off, lim.recs, lim.bytes, c)
				if err != nil {
					t.Fatal(err)
				}
				if c.n != len(res.Records) || whwm != res.HighWatermark {
					t.Fatalf("%d@%d %+v: wire read %d records hwm %d, Read %d hwm %d", pi, off, lim, c.n, whwm, len(res.Records), res.HighWatermark)
				}
				got := appendVarintField(append([]byte(nil), c.buf...), wireSubPartition, uint64(pi))
				got = appendVarintField(got, wireSubHighWatermark, uint64(whwm))
				putChunk(c)
				want, err := marshalSubscribe(pi, res.HighWatermark, res.Records)
				if err != nil {
					t.Fatal(err)
				}
				checkSameBytes(t, fmt.Sprintf("subscribe %d@%d %+v", pi, off, lim), got, want)

				cc := getConsumeChunk("w", pi)
				if _, _, err := b.readWireAt(tp, pi, off, lim.recs, lim.bytes, cc); err != nil {
					t.Fatal(err)
				}
				got = bytes.Clone(cc.finishConsume("w", whwm))
				putChunk(cc)
				want, err = marshalConsume("w", pi, res.HighWatermark, res.Records)
				if err != nil {
					t.Fatal(err)
				}
				checkSameBytes(t, fmt.Sprintf("consume %d@%d %+v", pi, off, lim), got, want)

				req := FetchRequest{Topic: "w", Partition: pi, Offset: off, MaxRecords: lim.recs, MaxBytes: lim.bytes}
				fr, err := b.Fetch(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				want, err = proto.Marshal(&brokerv1.FetchResponse{Records: recordsToProto(pi, fr.Records), HighWatermark: fr.HighWatermark, LogStartOffset: fr.LogStartOffset})
				if err != nil {
					t.Fatal(err)
				}
				msg, err := b.fetchWire(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				gotF, err := proto.Marshal(msg)
				if err != nil {
					t.Fatal(err)
				}
				checkSameBytes(t, fmt.Sprintf("fetch %d@%d %+v", pi, off, lim), gotF, want)
			}
		}
	}
	// Out of range: the same error both ways.
	_, errRead := b.readAt(tp, 0, 1<<40, 1, 1)
	c := getChunk(0)
	defer putChunk(c)
	_, _, errWire := b.readWireAt(tp, 0, 1<<40, 1, 1, c)
	if errRead == nil || errWire == nil || errRead.Error() != errWire.Error() {
		t.Fatalf("out of range: Read says %v, the wire read %v", errRead, errWire)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestWireCodec lists which request Content-Types take the wire path.
func TestWireCodec(t *testing.T) {
	for _, c := range []struct {
		ct   string
		want bool
	}{
		{"application/proto", true},
		{"application/connect+proto", true},
		{"application/grpc", true},
		{"application/grpc+proto", true},
		{"application/grpc-web", true},
		{"application/grpc-web+proto", true},
		{"Application/GRPC+Proto; charset=binary", true},
		{"application/json", false},
		{"application/json; charset=utf-8", false},
		{"application/connect+json", false},
		{"application/grpc+json", false},
		{"application/grpc-web+json", false},
		{"application/grpc-web-text", false},
		{"", false},
		{"text/plain", false},
	} {
		h := http.Header{}
		if c.ct != "" {
			h.Set("Content-Type", c.ct)
		}
		if got := wireCodec(h); got != c.want {
			t.Errorf("wireCodec(%q) = %v, want %v", c.ct, got, c.want)
		}
	}
}

// BenchmarkWireEncode is the encoding alone: 1000 records of 1 KiB.
func BenchmarkWireEncode(b *testing.B) {
	recs := make([]Record, 1000)
	v := bytes.Repeat([]byte("x"), 1024)
	for i := range recs {
		recs[i] = Record{Offset: int64(i) + 1<<20, Timestamp: 1700000000123, Value: v}
	}
	var buf []byte
	b.SetBytes(1000 * 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range recs {
			buf = appendRecordField(buf, wireRespRecords, 3, &recs[i])
		}
	}
}

// TestWireReadAllocs checks that encoding a chunk allocates nothing per
// record: a read of 1000 records costs no more allocations than a read of
// 10, once the pooled chunk has grown.
func TestWireReadAllocs(t *testing.T) {
	b := openWireBroker(t)
	ctx := context.Background()
	if _, err := b.CreateTopic(ctx, "a", 1, nil); err != nil {
		t.Fatal(err)
	}
	in := make([]ProduceRecord, 1000)
	v := bytes.Repeat([]byte("v"), 1024)
	for i := range in {
		in[i] = ProduceRecord{Key: []byte("k"), Value: v, Headers: []Header{{Key: "h", Value: []byte("x")}}}
	}
	if _, err := b.Produce(ctx, "a", in); err != nil {
		t.Fatal(err)
	}
	tp, err := b.lookup("a")
	if err != nil {
		t.Fatal(err)
	}
	// One chunk, not the pool: the race detector makes sync.Pool drop
	// items at random.
	c := new(wireChunk)
	c.visit = c.add
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(50, func() {
			c.buf, c.n = c.buf[:0], 0
			if _, _, err := b.readWireAt(tp, 0, 0, n, 16<<20, c); err != nil || c.n != n {
				t.Fatalf("read %d records: %d, %v", n, c.n, err)
			}
		})
	}
	few, many := allocs(10), allocs(1000)
	t.Logf("allocations per read: %v for 10 records, %v for 1000", few, many)
	if many > few || many > 3 {
		t.Errorf("allocations per read: %v for 10 records, %v for 1000; want at most 3, not growing with the records", few, many)
	}
}

// BenchmarkReadChunk is the server's CPU per Subscribe chunk without the
// transport: read 1 MiB of 1 KiB records from the log and produce the
// SubscribeResponse bytes, the old way (Read, Go messages, proto.Marshal)
// and the wire way (ReadFunc into a pooled chunk).
func BenchmarkReadChunk(b *testing.B) {
	dir := b.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	never, _ := ParseFsyncPolicy("never")
	br, err := Open(context.Background(), Config{DB: db, DataDir: dir, Fsync: never, MaintenanceInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	ctx := context.Background()
	if _, err := br.CreateTopic(ctx, "r", 1, nil); err != nil {
		b.Fatal(err)
	}
	in := make([]ProduceRecord, 500)
	v := bytes.Repeat([]byte("v"), 1024)
	for i := range in {
		in[i] = ProduceRecord{Value: v}
	}
	for range 16 {
		if _, err := br.Produce(ctx, "r", in); err != nil {
			b.Fatal(err)
		}
	}
	tp, err := br.lookup("r")
	if err != nil {
		b.Fatal(err)
	}
	hw := tp.parts[0].HighWatermark()
	run := func(b *testing.B, chunk func(off int64) (next int64, n int)) {
		b.ReportAllocs()
		var off, recs int64
		for b.Loop() {
			next, n := chunk(off)
			recs += int64(n)
			if off = next; off >= hw {
				off = 0
			}
		}
		b.SetBytes(recs * 1024 / int64(b.N))
	}
	b.Run("path=records", func(b *testing.B) {
		run(b, func(off int64) (int64, int) {
			res, err := br.readAt(tp, 0, off, MaxFetchMaxRecords, DefaultSubscribeMaxBytes)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := proto.Marshal(&brokerv1.SubscribeResponse{Records: recordsToProto(0, res.Records), HighWatermark: res.HighWatermark}); err != nil {
				b.Fatal(err)
			}
			return res.Records[len(res.Records)-1].Offset + 1, len(res.Records)
		})
	})
	b.Run("path=wire", func(b *testing.B) {
		run(b, func(off int64) (int64, int) {
			c := getChunk(0)
			defer putChunk(c)
			hwm, _, err := br.readWireAt(tp, 0, off, MaxFetchMaxRecords, DefaultSubscribeMaxBytes, c)
			if err != nil {
				b.Fatal(err)
			}
			c.buf = appendVarintField(c.buf, wireSubHighWatermark, uint64(hwm))
			return c.last + 1, c.n
		})
	})
}
