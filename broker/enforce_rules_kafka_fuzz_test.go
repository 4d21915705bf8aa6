package broker_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/server"
)

// FuzzKafkaDLQ: Kafka batches of an idempotent producer mixing records a
// DLQ rule diverts, good records and malformed ones (one record per input
// byte: its sign decides, 0x80 makes it garbage) never panic the broker,
// and the outcome is exact: a batch with a malformed record is refused
// whole (nothing in the topic or the DLQ, the sequence not taken);
// otherwise the topic's high watermark moves by the whole batch, the kept
// records read back at their offsets in the batch, the DLQ gets the
// diverted ones, and a retry of the batch is a duplicate that writes
// nothing more.
func FuzzKafkaDLQ(f *testing.F) {
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	sv, err := srv.Registry.Register(ctx, "tips-value", registry.Schema{
		Type:    serde.Avro,
		Text:    `{"type":"record","name":"Tip","fields":[{"name":"total","type":"long"}]}`,
		RuleSet: json.RawMessage(`{"domainRules":[{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0","onFailure":"DLQ","params":{"dlq.topic":"tips-dlq"}}]}`),
	}, registry.RegisterOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"tips", "tips-dlq"} {
		if _, err := srv.Broker.CreateTopic(ctx, name, 1, nil); err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte{5, 0xfb, 7})
	f.Add([]byte{0xff})
	f.Add([]byte{1, 0x80, 0xff})
	f.Add([]byte{0, 0, 0})
	var seq int32
	const pid = 4242
	hwm := func(topic string) int64 {
		info, err := srv.Broker.DescribeTopic(topic)
		if err != nil {
			f.Fatal(err)
		}
		return info.Partitions[0].HighWatermark
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 200 {
			return
		}
		var body []byte
		kept, diverted, garbage := []int{}, 0, false
		for i, c := range in {
			v := binary.BigEndian.AppendUint32([]byte{0}, uint32(sv.ID))
			switch total := int64(int8(c)); {
			case c == 0x80:
				v, garbage = []byte("not avro"), true
			case total > 0:
				v = binary.AppendVarint(v, total)
				kept = append(kept, i)
			default:
				v = binary.AppendVarint(v, total)
				diverted++
			}
			r := kmsg.Record{OffsetDelta: int32(i), Value: v}
			r.Length = int32(len(r.AppendTo(nil)) - 1)
			body = r.AppendTo(body)
		}
		b := kmsg.RecordBatch{Length: int32(49 + len(body)), Magic: 2, LastOffsetDelta: int32(len(in) - 1), FirstTimestamp: 1, MaxTimestamp: 1,
			ProducerID: pid, FirstSequence: seq, NumRecords: int32(len(in)), Records: body}
		raw := b.AppendTo(nil)
		binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
		topic0, dlq0 := hwm("tips"), hwm("tips-dlq")
		send := func() (int64, error) {
			out, err := srv.Broker.ProduceBatches(ctx, "tips", []broker.PartitionBatch{{Partition: 0, Raw: append([]byte(nil), raw...)}})
			if err != nil {
				t.Fatal(err)
			}
			base, _, err := out[0].Wait(ctx)
			return base, err
		}
		base, err := send()
		if garbage {
			var be *broker.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("a batch with a malformed record: %v", err)
			}
			if hwm("tips") != topic0 || hwm("tips-dlq") != dlq0 {
				t.Fatalf("a refused batch wrote something")
			}
			return
		}
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		seq += int32(len(in))
		if base != topic0 || hwm("tips") != topic0+int64(len(in)) || hwm("tips-dlq") != dlq0+int64(diverted) {
			t.Fatalf("base %d (want %d), tips %d→%d, dlq %d→%d, for %d records (%d diverted)", base, topic0, topic0, hwm("tips"), dlq0, hwm("tips-dlq"), len(in), diverted)
		}
		if base2, err := send(); err != nil || base2 != base || hwm("tips") != topic0+int64(len(in)) || hwm("tips-dlq") != dlq0+int64(diverted) {
			t.Fatalf("retry: base %d, %v; or it wrote again", base2, err)
		}
		if len(kept) == 0 {
			return
		}
		res, err := srv.Broker.Fetch(ctx, broker.FetchRequest{Topic: "tips", Offset: base, MaxRecords: len(kept)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) != len(kept) {
			t.Fatalf("read %d records, want %d", len(res.Records), len(kept))
		}
		for j, r := range res.Records {
			if r.Offset != base+int64(kept[j]) {
				t.Fatalf("kept record %d at offset %d, want %d", j, r.Offset, base+int64(kept[j]))
			}
		}
	})
}
