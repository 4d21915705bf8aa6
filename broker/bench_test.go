package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// BenchmarkSubscribeCatchUp streams a stored backlog (8 partitions of 1 KiB
// records) from the earliest offset to the high watermark over one
// Subscribe stream per iteration, through the real Connect server and
// client in this process: the catch-up consume of issue #3. Bytes are the
// record values. client=decode builds Go messages per record, as a real
// consumer does; client=count only counts the records of each message, so
// that allocs/op are the server's and the transport's.
func BenchmarkSubscribeCatchUp(b *testing.B) {
	const parts, perPart, size = 8, 2000, 1024
	e := newEnv(b)
	e.createTopic("bench", parts, nil)
	value := bytes.Repeat([]byte("x"), size)
	for p := range int32(parts) {
		recs := make([]*brokerv1.ProduceRecord, 500)
		for i := range recs {
			recs[i] = &brokerv1.ProduceRecord{Value: value, Partition: &p}
		}
		for range perPart / len(recs) {
			e.produce("bench", recs...)
		}
	}
	for _, mode := range []string{"decode", "count"} {
		b.Run("client="+mode, func(b *testing.B) {
			client, codec := e.client, (*countCodec)(nil)
			if mode == "count" {
				codec = new(countCodec)
				client = brokerv1connect.NewBrokerServiceClient(h2cClient(), e.srv.URL,
					connect.WithAcceptCompression("gzip", nil, nil), connect.WithCodec(codec))
			}
			b.SetBytes(parts * perPart * size)
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				st, err := client.Subscribe(ctx, connect.NewRequest(&brokerv1.SubscribeRequest{
					Topic: "bench", Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
				}))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for n < parts*perPart && st.Receive() {
					if codec != nil {
						n += codec.records
					} else {
						n += len(st.Msg().GetRecords())
					}
				}
				cancel()
				st.Close()
				if n != parts*perPart {
					b.Fatalf("caught up %d of %d records: %v", n, parts*perPart, st.Err())
				}
			}
		})
	}
}

// countCodec is a client "proto" codec that, for a SubscribeResponse, only
// counts the records field's elements (into records) without decoding them.
type countCodec struct{ records int }

func (c *countCodec) Name() string { return "proto" }

func (c *countCodec) Marshal(m any) ([]byte, error) { return proto.Marshal(m.(proto.Message)) }

func (c *countCodec) Unmarshal(data []byte, m any) error {
	if _, ok := m.(*brokerv1.SubscribeResponse); !ok {
		return proto.Unmarshal(data, m.(proto.Message))
	}
	c.records = 0
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if num == 1 {
			c.records++
		}
	}
	return nil
}

// BenchmarkGroupConsumeCatchUp is BenchmarkSubscribeCatchUp through a
// consumer group: one member's GroupService.Consume stream reads the same
// backlog (8 partitions of 1 KiB records) from the earliest offsets, each
// iteration as a new group (no commits, auto offset reset earliest), so the
// join and the assignment are inside the measurement as they are for a
// real consumer. client=count walks each ConsumeResponse's wire form
// (consumeCountCodec) instead of decoding it.
func BenchmarkGroupConsumeCatchUp(b *testing.B) {
	const parts, perPart, size = 8, 2000, 1024
	e := newEnv(b)
	e.createTopic("bench", parts, nil)
	value := bytes.Repeat([]byte("x"), size)
	for p := range int32(parts) {
		recs := make([]*brokerv1.ProduceRecord, 500)
		for i := range recs {
			recs[i] = &brokerv1.ProduceRecord{Value: value, Partition: &p}
		}
		for range perPart / len(recs) {
			e.produce("bench", recs...)
		}
	}
	for _, mode := range []string{"decode", "count"} {
		b.Run("client="+mode, func(b *testing.B) {
			opts := []connect.ClientOption{connect.WithAcceptCompression("gzip", nil, nil)}
			codec := (*consumeCountCodec)(nil)
			if mode == "count" {
				codec = new(consumeCountCodec)
				opts = append(opts, connect.WithCodec(codec))
			}
			client := brokerv1connect.NewGroupServiceClient(h2cClient(), e.srv.URL, opts...)
			b.SetBytes(parts * perPart * size)
			b.ReportAllocs()
			iter := 0
			for b.Loop() {
				iter++
				ctx, cancel := context.WithCancel(context.Background())
				st, err := client.Consume(ctx, connect.NewRequest(&brokerv1.ConsumeRequest{
					Group:           fmt.Sprintf("bench-%s-%d", mode, iter),
					Subscription:    &brokerv1.Subscription{Topics: []string{"bench"}},
					AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
				}))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for n < parts*perPart && st.Receive() {
					if codec != nil {
						n += codec.records
						codec.records = 0
					} else {
						n += len(st.Msg().GetRecords().GetRecords())
					}
				}
				cancel()
				st.Close()
				if n != parts*perPart {
					b.Fatalf("caught up %d of %d records: %v", n, parts*perPart, st.Err())
				}
			}
		})
	}
}

// consumeCountCodec is countCodec for ConsumeResponse: it counts the
// records of a ConsumeRecords event (field 2, records field 3) without
// decoding them; assignments and other messages are unmarshalled.
type consumeCountCodec struct{ records int }

func (c *consumeCountCodec) Name() string { return "proto" }

func (c *consumeCountCodec) Marshal(m any) ([]byte, error) { return proto.Marshal(m.(proto.Message)) }

func (c *consumeCountCodec) Unmarshal(data []byte, m any) error {
	if _, ok := m.(*brokerv1.ConsumeResponse); !ok {
		return proto.Unmarshal(data, m.(proto.Message))
	}
	num, typ, n := protowire.ConsumeTag(data)
	if n < 0 || num != 2 || typ != protowire.BytesType {
		// Not a records event: an assignment.
		return proto.Unmarshal(data, m.(proto.Message))
	}
	body, n := protowire.ConsumeBytes(data[n:])
	if n < 0 {
		return protowire.ParseError(n)
	}
	proto.Reset(m.(proto.Message))
	c.records = 0
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return protowire.ParseError(n)
		}
		body = body[n:]
		if n = protowire.ConsumeFieldValue(num, typ, body); n < 0 {
			return protowire.ParseError(n)
		}
		body = body[n:]
		if num == 3 {
			c.records++
		}
	}
	return nil
}
