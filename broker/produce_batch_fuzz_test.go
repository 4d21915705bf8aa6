package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// FuzzProduceBatches: any bytes sent as a Kafka producer's batch are
// refused with one of ProduceBatches' documented errors or stored; never a
// panic. A stored batch reads back through FetchBatches with a valid CRC,
// and its records over the record path (Connect's Fetch) are the ones kmsg
// decodes from the stored bytes.
func FuzzProduceBatches(f *testing.F) {
	f.Add(kbatch(1000, pair("k", "v"), pair("", "x")))
	snappy := kbatch(5, pair("a", "b"), pair("c", "d"))
	body := s2.EncodeSnappy(nil, snappy[61:])
	z := append(bytes.Clone(snappy[:61]), body...)
	binary.BigEndian.PutUint32(z[8:], uint32(len(z)-12))
	binary.BigEndian.PutUint16(z[21:], 2)
	binary.BigEndian.PutUint32(z[17:], crc32.Checksum(z[21:], crc32.MakeTable(crc32.Castagnoli)))
	f.Add(z)
	f.Add([]byte{})
	f.Add(txnBatch(7, 0, 0, "in no transaction")) // ErrInvalidTxnState (txn_test.go)
	e := newEnv(f)
	e.createTopic("t", 1, nil)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx := context.Background()
		out, err := e.b.ProduceBatches(ctx, "t", []broker.PartitionBatch{{Partition: 0, Raw: bytes.Clone(raw)}})
		if err != nil {
			t.Fatal(err)
		}
		base, _, err := out[0].Wait(ctx)
		if err != nil {
			for _, want := range []error{broker.ErrInvalidBatch, broker.ErrCorruptBatch, broker.ErrMessageTooLarge, broker.ErrRecordListTooLarge, broker.ErrOutOfOrderSequence, broker.ErrInvalidProducerEpoch, broker.ErrInvalidTxnState} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("undocumented error: %v", err)
		}
		res := e.b.FetchBatches(ctx, broker.FetchBatchesRequest{Partitions: []broker.FetchBatchesPartition{{Topic: "t", Offset: base, MaxBytes: 1}}})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		b := res[0].Batches
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if rb.FirstOffset != base || uint32(rb.CRC) != crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)) || rb.Attributes&7 != 0 {
			t.Fatalf("stored batch: base %d (want %d), attributes %#x", rb.FirstOffset, base, rb.Attributes)
		}
		recs, err := e.b.Fetch(ctx, broker.FetchRequest{Topic: "t", Offset: base, MaxRecords: min(int(rb.NumRecords), broker.MaxFetchMaxRecords)})
		if err != nil {
			t.Fatal(err)
		}
		rest := rb.Records
		for i := range min(int(rb.NumRecords), len(recs.Records)) {
			l, n := binary.Varint(rest)
			var r kmsg.Record
			if err := r.ReadFrom(rest[:n+int(l)]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n+int(l):]
			got := recs.Records[i]
			if got.Offset != base+int64(i) || !bytes.Equal(got.Key, r.Key) || (got.Key == nil) != (r.Key == nil) || !bytes.Equal(got.Value, r.Value) {
				t.Fatalf("record %d differs between the record path and the batch bytes", i)
			}
		}
	})
}
