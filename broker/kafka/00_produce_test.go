package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// testRecord is a record for testBatch; a nil Key or Value is null.
type testRecord struct {
	Key, Value []byte
}

// batchOpts shape testBatch's output.
type batchOpts struct {
	codec              int8 // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	pid                int64
	epoch              int16
	seq                int32
	attrs              int16 // extra attribute bits
	magic              int8
	ts                 int64
	corruptCRC         bool
	lastOffsetDeltaAdd int32
}

// testBatch encodes recs as a record batch v2 the way a producer does:
// base offset 0, dense offset deltas, timestamps ts+i.
func testBatch(t testing.TB, recs []testRecord, o batchOpts) []byte {
	t.Helper()
	if o.magic == 0 {
		o.magic = 2
	}
	if o.ts == 0 {
		o.ts = 1_700_000_000_000
	}
	if o.pid == 0 {
		o.pid, o.epoch, o.seq = -1, -1, -1
	}
	var body []byte
	for i, r := range recs {
		var rec []byte
		rec = append(rec, 0)
		rec = binary.AppendVarint(rec, int64(i))
		rec = binary.AppendVarint(rec, int64(i))
		for _, f := range [][]byte{r.Key, r.Value} {
			if f == nil {
				rec = binary.AppendVarint(rec, -1)
			} else {
				rec = binary.AppendVarint(rec, int64(len(f)))
				rec = append(rec, f...)
			}
		}
		rec = binary.AppendVarint(rec, 0)
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	switch o.codec {
	case 1:
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(body)
		w.Close()
		body = b.Bytes()
	case 2:
		body = s2.EncodeSnappy(nil, body)
	case 3:
		var b bytes.Buffer
		w := lz4.NewWriter(&b)
		w.Write(body)
		w.Close()
		body = b.Bytes()
	case 4:
		enc, _ := zstd.NewWriter(nil)
		body = enc.EncodeAll(body, nil)
	}
	be := binary.BigEndian
	h := make([]byte, 61)
	be.PutUint32(h[8:], uint32(61-12+len(body)))
	h[16] = byte(o.magic)
	be.PutUint16(h[21:], uint16(int16(o.codec)|o.attrs))
	be.PutUint32(h[23:], uint32(int32(len(recs)-1)+o.lastOffsetDeltaAdd))
	be.PutUint64(h[27:], uint64(o.ts))
	be.PutUint64(h[35:], uint64(o.ts+int64(len(recs)-1)))
	be.PutUint64(h[43:], uint64(o.pid))
	be.PutUint16(h[51:], uint16(o.epoch))
	be.PutUint32(h[53:], uint32(o.seq))
	be.PutUint32(h[57:], uint32(len(recs)))
	b := append(h, body...)
	crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	if o.corruptCRC {
		crc++
	}
	be.PutUint32(b[17:], crc)
	return b
}

// numberedRecords makes n records "k<i>" / "v<i>".
func numberedRecords(n int) []testRecord {
	out := make([]testRecord, n)
	for i := range out {
		out[i] = testRecord{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
	}
	return out
}

// produceReq builds a Produce request of one topic.
func produceReq(version, acks int16, topic string, parts map[int32][]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 64; p++ {
		if raw, ok := parts[p]; ok {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = p, raw
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func createTopic(t testing.TB, s *Server, name string, partitions int, configs map[string]string) {
	t.Helper()
	if _, err := s.Broker().CreateTopic(context.Background(), name, partitions, configs); err != nil {
		t.Fatal(err)
	}
}

func hwm(t testing.TB, s *Server, topic string, p int32) int64 {
	t.Helper()
	info, err := s.Broker().DescribeTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	return info.Partitions[p].HighWatermark
}

// TestProduceChecks: each malformed batch gets its own error code, the
// other partitions of the same request are appended, and nothing of a
// refused batch is.
func TestProduceChecks(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 2, map[string]string{"max.message.bytes": "2000"})
	good := func() []byte { return testBatch(t, numberedRecords(3), batchOpts{}) }
	twoBatches := append(good(), good()...)
	tests := []struct {
		name    string
		version int16
		acks    int16
		raw     []byte
		want    int16
	}{
		{"bad crc", 9, -1, testBatch(t, numberedRecords(3), batchOpts{corruptCRC: true}), kerr.CorruptMessage.Code},
		{"magic 1", 9, -1, testBatch(t, numberedRecords(3), batchOpts{magic: 1}), kerr.InvalidRecord.Code},
		{"control batch", 9, -1, testBatch(t, numberedRecords(1), batchOpts{attrs: 0x20}), kerr.InvalidRecord.Code},
		{"last offset delta wrong", 9, -1, testBatch(t, numberedRecords(3), batchOpts{lastOffsetDeltaAdd: 2}), kerr.InvalidRecord.Code},
		{"two batches", 9, -1, twoBatches, kerr.InvalidRecord.Code},
		{"too large", 9, -1, testBatch(t, []testRecord{{Value: make([]byte, 3000)}}, batchOpts{}), kerr.MessageTooLarge.Code},
		{"unknown codec", 9, -1, testBatch(t, numberedRecords(3), batchOpts{codec: 5}), kerr.CorruptMessage.Code},
		{"garbage gzip", 9, -1, func() []byte {
			b := testBatch(t, numberedRecords(3), batchOpts{codec: 1})
			b[len(b)-6] ^= 0xff // the gzip trailer's CRC-32
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
			return b
		}(), kerr.CorruptMessage.Code},
		{"zstd at v6", 6, -1, testBatch(t, numberedRecords(3), batchOpts{codec: 4}), kerr.UnsupportedCompressionType.Code},
		{"short", 9, -1, []byte{1, 2, 3}, kerr.InvalidRecord.Code},
		{"acks 2", 9, 2, good(), kerr.InvalidRequiredAcks.Code},
	}
	c := dialRaw(t, addr)
	for i, tt := range tests {
		before0, before1 := hwm(t, s, "t", 0), hwm(t, s, "t", 1)
		resp := c.roundTrip(produceReq(tt.version, tt.acks, "t", map[int32][]byte{0: tt.raw, 1: good()}), int32(i)).(*kmsg.ProduceResponse)
		p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
		if p0.ErrorCode != tt.want {
			t.Errorf("%s: error %v, want %v (message %v)", tt.name, kerr.ErrorForCode(p0.ErrorCode), kerr.ErrorForCode(tt.want), deref(p0.ErrorMessage))
		}
		if got := hwm(t, s, "t", 0); got != before0 {
			t.Errorf("%s: partition 0 grew from %d to %d", tt.name, before0, got)
		}
		if tt.acks == 2 {
			continue
		}
		if p1.ErrorCode != 0 || p1.BaseOffset != before1 || hwm(t, s, "t", 1) != before1+3 {
			t.Errorf("%s: partition 1: error %v, base %d (was %d)", tt.name, kerr.ErrorForCode(p1.ErrorCode), p1.BaseOffset, before1)
		}
		if tt.version >= 8 && p0.ErrorMessage == nil {
			t.Errorf("%s: no error message at v%d", tt.name, tt.version)
		}
	}
	// Decompression bombs: a few kilobytes as sent (under the default
	// max.message.bytes of 1 MiB), records past the 16 MiB cap once
	// decompressed: RECORD_LIST_TOO_LARGE, nothing written.
	createTopic(t, s, "bombs", 1, nil)
	for i, codec := range []int8{1, 2, 3, 4} {
		raw := testBatch(t, []testRecord{{Value: make([]byte, 17<<20)}}, batchOpts{codec: codec})
		if len(raw) > 1<<20 {
			t.Fatalf("codec %d: the bomb is %d bytes as sent, over max.message.bytes", codec, len(raw))
		}
		resp := c.roundTrip(produceReq(9, -1, "bombs", map[int32][]byte{0: raw}), int32(200+i)).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.RecordListTooLarge.Code {
			t.Errorf("codec %d bomb of %d bytes: %v, want RECORD_LIST_TOO_LARGE", codec, len(raw), kerr.ErrorForCode(code))
		}
		if got := hwm(t, s, "bombs", 0); got != 0 {
			t.Errorf("codec %d bomb: high watermark %d", codec, got)
		}
	}
	// An unknown topic and an unknown partition.
	resp := c.roundTrip(produceReq(9, -1, "nope", map[int32][]byte{0: good()}), 100).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: %v", kerr.ErrorForCode(code))
	}
	resp = c.roundTrip(produceReq(9, -1, "t", map[int32][]byte{7: good()}), 101).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: %v", kerr.ErrorForCode(code))
	}
}

// TestProduceCodecsStoredUncompressed: every codec is accepted, stored
// uncompressed with the producer fields kept, and read back by Fetch.
func TestProduceCodecsStoredUncompressed(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 1, nil)
	c := dialRaw(t, addr)
	recs := numberedRecords(50)
	var want int64
	for codec := int8(0); codec <= 4; codec++ {
		raw := testBatch(t, recs, batchOpts{codec: codec, pid: 42, epoch: 3, seq: int32(codec) * 50})
		resp := c.roundTrip(produceReq(9, -1, "t", map[int32][]byte{0: raw}), int32(codec)).(*kmsg.ProduceResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != want || p.LogStartOffset != 0 {
			t.Fatalf("codec %d: error %v, base %d, log start %d; want base %d", codec, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, p.LogStartOffset, want)
		}
		want += 50
	}
	res := s.Broker().FetchBatches(context.Background(), broker.FetchBatchesRequest{Partitions: []broker.FetchBatchesPartition{{Topic: "t", Offset: 0}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	batches := decodeBatches(t, res[0].Batches)
	if len(batches) != 5 {
		t.Fatalf("%d batches stored, want 5", len(batches))
	}
	for i, b := range batches {
		if b.batch.Attributes&0x07 != 0 || b.batch.ProducerID != 42 || b.batch.ProducerEpoch != 3 || b.batch.FirstSequence != int32(i)*50 {
			t.Errorf("batch %d: attributes %#x, producer %d/%d/%d", i, b.batch.Attributes, b.batch.ProducerID, b.batch.ProducerEpoch, b.batch.FirstSequence)
		}
		if b.batch.FirstOffset != int64(i*50) || len(b.records) != 50 {
			t.Fatalf("batch %d: base %d, %d records", i, b.batch.FirstOffset, len(b.records))
		}
		for j, r := range b.records {
			if !bytes.Equal(r.Key, recs[j].Key) || !bytes.Equal(r.Value, recs[j].Value) || r.TimestampDelta64 != int64(j) {
				t.Fatalf("batch %d record %d: %q=%q", i, j, r.Key, r.Value)
			}
		}
	}
}

// TestProduceAcks0: no response; the next request's answer comes back and
// the data is there; a failure closes the connection.
func TestProduceAcks0(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 1, nil)
	c := dialRaw(t, addr)
	c.send(produceReq(9, 0, "t", map[int32][]byte{0: testBatch(t, numberedRecords(4), batchOpts{})}), 1)
	resp := c.roundTrip(produceReq(9, 1, "t", map[int32][]byte{0: testBatch(t, numberedRecords(2), batchOpts{})}), 2).(*kmsg.ProduceResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 4 {
		t.Fatalf("after acks=0: base %d, error %v", p.BaseOffset, kerr.ErrorForCode(p.ErrorCode))
	}
	c.send(produceReq(9, 0, "t", map[int32][]byte{0: testBatch(t, numberedRecords(4), batchOpts{corruptCRC: true})}), 3)
	c.expectClosed()
}

// fetchedBatch is a decoded batch from a fetch.
type fetchedBatch struct {
	batch   kmsg.RecordBatch
	records []kmsg.Record
}

// decodeBatches splits and decodes uncompressed batches.
func decodeBatches(t testing.TB, b []byte) []fetchedBatch {
	t.Helper()
	var out []fetchedBatch
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d stray bytes", len(b))
		}
		n := 12 + int(binary.BigEndian.Uint32(b[8:]))
		var fb fetchedBatch
		if err := fb.batch.ReadFrom(b[:n]); err != nil {
			t.Fatal(err)
		}
		if crc := crc32.Checksum(b[21:n], crc32.MakeTable(crc32.Castagnoli)); uint32(fb.batch.CRC) != crc {
			t.Fatalf("batch at %d: bad CRC", fb.batch.FirstOffset)
		}
		rest := fb.batch.Records
		for range fb.batch.NumRecords {
			l, k := binary.Varint(rest)
			var r kmsg.Record
			if err := r.ReadFrom(rest[:k+int(l)]); err != nil {
				t.Fatal(err)
			}
			fb.records = append(fb.records, r)
			rest = rest[k+int(l):]
		}
		out = append(out, fb)
		b = b[n:]
	}
	return out
}

// TestIdempotentProduce: InitProducerId hands out fresh ids; a retried
// batch is answered with its first offsets and not stored twice; a gap and
// an old epoch are refused with their codes.
func TestIdempotentProduce(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 1, nil)
	c := dialRaw(t, addr)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	r1 := c.roundTrip(init, 1).(*kmsg.InitProducerIDResponse)
	r2 := c.roundTrip(init, 2).(*kmsg.InitProducerIDResponse)
	if r1.ErrorCode != 0 || r1.ProducerID < 0 || r2.ProducerID == r1.ProducerID || r1.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: %+v then %+v", r1, r2)
	}
	pid := r1.ProducerID
	send := func(corr int32, epoch int16, seq int32, n int) kmsg.ProduceResponseTopicPartition {
		raw := testBatch(t, numberedRecords(n), batchOpts{pid: pid, epoch: epoch, seq: seq})
		return c.roundTrip(produceReq(9, -1, "t", map[int32][]byte{0: raw}), corr).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	if p := send(3, 0, 0, 4); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("first: %v at %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	if p := send(4, 0, 4, 2); p.ErrorCode != 0 || p.BaseOffset != 4 {
		t.Fatalf("second: %v at %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	if p := send(5, 0, 0, 4); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("retry: %v at %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	if got := hwm(t, s, "t", 0); got != 6 {
		t.Fatalf("high watermark %d after a retry, want 6", got)
	}
	if p := send(6, 0, 9, 1); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := send(7, 1, 0, 1); p.ErrorCode != 0 {
		t.Fatalf("epoch 1: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := send(8, 0, 6, 1); p.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	// The last five batches of a producer are remembered: a retry of the
	// fifth newest is answered with its offset; the sixth newest is too
	// old to tell from a reordering and is refused, not appended again.
	pid = r2.ProducerID
	offsets := map[int32]int64{}
	for seq := int32(0); seq < 7; seq++ {
		p := send(20+seq, 0, seq, 1)
		if p.ErrorCode != 0 {
			t.Fatalf("producer 2 sequence %d: %v", seq, kerr.ErrorForCode(p.ErrorCode))
		}
		offsets[seq] = p.BaseOffset
	}
	end := hwm(t, s, "t", 0)
	if p := send(30, 0, 2, 1); p.ErrorCode != 0 || p.BaseOffset != offsets[2] {
		t.Fatalf("retry of the fifth newest batch: %v at %d, want its offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, offsets[2])
	}
	if p := send(31, 0, 1, 1); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("retry of the sixth newest batch: %v at %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	if got := hwm(t, s, "t", 0); got != end {
		t.Fatalf("high watermark %d after the retries, want %d", got, end)
	}
	txn := kmsg.NewPtrInitProducerIDRequest()
	txn.Version, txn.TransactionalID, txn.TransactionTimeoutMillis = 4, kmsg.StringPtr("tx"), 10000
	if r := c.roundTrip(txn, 9).(*kmsg.InitProducerIDResponse); r.ErrorCode != 0 || r.ProducerID < 0 || r.ProducerEpoch != 0 {
		t.Fatalf("transactional: %v, producer %d epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
	}
}
