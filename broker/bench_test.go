package broker_test

import (
	"bytes"
	"context"
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
