package client_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// BenchmarkProduce compares a typed Produce with a raw Produce of the same
// bytes (envelope included) through the same in-process server: the
// typed-client overhead is the encoding and framing. Run both and divide:
//
//	go test ./client -run '^$' -bench Produce -count 5
func BenchmarkProduce(b *testing.B) {
	ctx := context.Background()
	srv := sluicetest.Start(b)
	srv.CreateTopic(b, "bench", 1, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "bench", primitive.String(), avro.Must[avroOrderV2](orderV2), client.AutoRegister())
	if err != nil {
		b.Fatal(err)
	}
	order := avroOrderV2{ID: "order-0001", Amount: 12345, Note: "leave at the door"}
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Produce(ctx, order.ID, order); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The raw request carries the exact bytes the typed producer sends.
	key, err := primitive.String().AppendEncode(nil, order.ID)
	if err != nil {
		b.Fatal(err)
	}
	val, err := avro.Must[avroOrderV2](orderV2).AppendEncode(nil, order)
	if err != nil {
		b.Fatal(err)
	}
	key = append(appendPrefix(p.KeySchemaID()), key...)
	val = append(appendPrefix(p.ValueSchemaID()), val...)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := &brokerv1.ProduceRequest{Topic: "bench", Records: []*brokerv1.ProduceRecord{{Key: key, Value: val}}}
			if _, err := srv.Conn.Broker().Produce(ctx, connect.NewRequest(req)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProduceRatio interleaves typed and raw produces of the same
// bytes (alternating which goes first), so that load drift on a shared
// machine hits both alike, and reports typed/raw as the ratio metric.
func BenchmarkProduceRatio(b *testing.B) {
	ctx := context.Background()
	srv := sluicetest.Start(b)
	srv.CreateTopic(b, "bench", 1, nil)
	codec := avro.Must[avroOrderV2](orderV2)
	p, err := client.NewProducer(ctx, srv.Conn, "bench", primitive.String(), codec, client.AutoRegister())
	if err != nil {
		b.Fatal(err)
	}
	order := avroOrderV2{ID: "order-0001", Amount: 12345, Note: "leave at the door"}
	key, _ := primitive.String().AppendEncode(appendPrefix(p.KeySchemaID()), order.ID)
	val, _ := codec.AppendEncode(appendPrefix(p.ValueSchemaID()), order)
	typed := func() {
		if _, err := p.Produce(ctx, order.ID, order); err != nil {
			b.Fatal(err)
		}
	}
	raw := func() {
		req := &brokerv1.ProduceRequest{Topic: "bench", Records: []*brokerv1.ProduceRecord{{Key: key, Value: val}}}
		if _, err := srv.Conn.Broker().Produce(ctx, connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
	}
	var typedTime, rawTime time.Duration
	i := 0
	for b.Loop() {
		first, second := typed, raw
		firstT, secondT := &typedTime, &rawTime
		if i%2 == 1 {
			first, second, firstT, secondT = raw, typed, &rawTime, &typedTime
		}
		start := time.Now()
		first()
		mid := time.Now()
		second()
		*firstT += mid.Sub(start)
		*secondT += time.Since(mid)
		i++
	}
	b.ReportMetric(float64(typedTime.Nanoseconds())/float64(i), "typed-ns/op")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(i), "raw-ns/op")
	b.ReportMetric(float64(typedTime)/float64(rawTime), "typed/raw")
}

func appendPrefix(id int32) []byte {
	return []byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
}

// BenchmarkEncode is the typed path's own work per record, without the
// round trip: framing and encoding the key and the value.
func BenchmarkEncode(b *testing.B) {
	key, value := primitive.String(), avro.Must[avroOrderV2](orderV2)
	order := avroOrderV2{ID: "order-0001", Amount: 12345, Note: "leave at the door"}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(buf[:0], appendPrefix(1)...)
		buf, _ = key.AppendEncode(buf, order.ID)
		buf = append(buf, appendPrefix(2)...)
		buf, _ = value.AppendEncode(buf, order)
	}
}
