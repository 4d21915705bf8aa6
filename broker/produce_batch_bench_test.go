package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/server"
)

// BenchmarkProduceBatches is the Kafka produce core without the network:
// ProduceBatches then Wait for one partition's batch of 16 records of
// 1 KiB (fsync never), for a plain uncompressed batch, the same batch
// snappy-compressed (kgo's default codec), and Avro values checked at
// value.schema.validation=payload. b.SetBytes counts value bytes. One
// batch is in flight at a time, so on a busy machine the writer
// goroutine's wake-up latency dominates; compare the sub-benchmarks with
// each other, and use -cpuprofile for where the CPU goes.
func BenchmarkProduceBatches(b *testing.B) {
	never, _ := broker.ParseFsyncPolicy("never")
	srv, err := server.New(context.Background(), server.Config{DataDir: b.TempDir(), Fsync: never})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	sv, err := srv.Registry.Register(ctx, "avro-value", registry.Schema{Type: serde.Avro,
		Text: `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"payload","type":"string"}]}`}, registry.RegisterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"plain", "snappy", "avro"} {
		mode := broker.ValidationNone
		if name == "avro" {
			mode = broker.ValidationPayload
		}
		if _, err := srv.Broker.CreateTopic(ctx, name, 1, map[string]string{"value.schema.validation": mode}); err != nil {
			b.Fatal(err)
		}
	}
	plain := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 40)[:1024]
	avro := []byte{0}
	avro = binary.BigEndian.AppendUint32(avro, uint32(sv.ID))
	avro = binary.AppendVarint(avro, 12345)
	avro = binary.AppendVarint(avro, int64(1024-len(avro)-2))
	avro = append(avro, plain[:1024-len(avro)]...)
	batchOf := func(v []byte) []byte {
		kvs := make([][2][]byte, 16)
		for i := range kvs {
			kvs[i] = [2][]byte{nil, v}
		}
		return kbatch(1_700_000_000_000, kvs...)
	}
	snappy := func(raw []byte) []byte {
		out := append(bytes.Clone(raw[:61]), s2.EncodeSnappy(nil, raw[61:])...)
		binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
		binary.BigEndian.PutUint16(out[21:], 2)
		binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
		return out
	}
	for _, c := range []struct {
		topic string
		raw   []byte
	}{{"plain", batchOf(plain)}, {"snappy", snappy(batchOf(plain))}, {"avro", batchOf(avro)}} {
		b.Run(c.topic, func(b *testing.B) {
			b.SetBytes(16 * 1024)
			b.ReportAllocs()
			for b.Loop() {
				out, err := srv.Broker.ProduceBatches(ctx, c.topic, []broker.PartitionBatch{{Partition: 0, Raw: bytes.Clone(c.raw)}})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := out[0].Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
