package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// TestGroupConsumeEveryProtocol reads the same records through Consume
// streams over Connect, gRPC and gRPC-Web with the binary codec (the
// pre-encoded wire path) and with JSON (the ordinary path): every client
// decodes the same ConsumeRecords, topic, partition and high watermark
// included. Each client is its own group, so each reads everything.
func TestGroupConsumeEveryProtocol(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	e.createTopic("payments", 1, nil)
	var in []*brokerv1.ProduceRecord
	for i := range 40 {
		r := &brokerv1.ProduceRecord{Value: []byte(fmt.Sprint("v", i)), Partition: ptr(int32(i % 2))}
		switch i % 4 {
		case 1:
			r.Key = []byte(fmt.Sprint("k", i))
		case 2:
			r.Key, r.Value = []byte{}, []byte{}
			r.Headers = []*brokerv1.Header{{Key: "h", Value: []byte("1")}, {Key: "é"}, {Value: []byte("no key")}}
		case 3:
			r.Value = nil
			r.Timestamp = timestamppb.New(time.UnixMilli(-1500))
		}
		in = append(in, r)
	}
	e.produce("orders", in...)
	e.produce("payments", &brokerv1.ProduceRecord{Value: []byte("p0")}, &brokerv1.ProduceRecord{Key: []byte("k"), Value: []byte("p1")})
	const total = 42
	noGzip := connect.WithAcceptCompression("gzip", nil, nil)
	clients := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect+json", []connect.ClientOption{connect.WithProtoJSON()}}, // the reference: the ordinary path
		{"connect+proto", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc+json", []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	// consumed is what one client read: its records (topic/partition as
	// the record's key in the map) and each chunk's framing.
	type consumed struct {
		recs map[string][]*brokerv1.Record
		hwm  map[string]int64
	}
	var ref *consumed
	for i, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			client := brokerv1connect.NewGroupServiceClient(h2cClient(), e.srv.URL, append(c.opts, noGzip)...)
			s := startConsume(t, client, consumeReq(fmt.Sprint("g", i), "orders", "payments"))
			s.assignmentOf(t, 3)
			got := &consumed{recs: map[string][]*brokerv1.Record{}, hwm: map[string]int64{}}
			n := 0
			for n < total {
				select {
				case cr := <-s.records:
					if len(cr.GetRecords()) == 0 {
						t.Fatalf("an empty ConsumeRecords: %v", cr)
					}
					tp := fmt.Sprintf("%s/%d", cr.GetTopic(), cr.GetPartition())
					for _, r := range cr.GetRecords() {
						if r.GetPartition() != cr.GetPartition() {
							t.Fatalf("%s: record of partition %d", tp, r.GetPartition())
						}
					}
					got.recs[tp] = append(got.recs[tp], cr.GetRecords()...)
					got.hwm[tp] = cr.GetHighWatermark()
					n += len(cr.GetRecords())
				case err := <-s.done:
					t.Fatalf("stream ended after %d records: %v", n, err)
				case <-time.After(20 * time.Second):
					t.Fatalf("%d of %d records within 20s", n, total)
				}
			}
			s.stop()
			wantHWM := map[string]int64{"orders/0": 20, "orders/1": 20, "payments/0": 2}
			for tp, hwm := range wantHWM {
				if got.hwm[tp] != hwm || len(got.recs[tp]) != int(hwm) {
					t.Fatalf("%s: %d records, high watermark %d; want %d and %d", tp, len(got.recs[tp]), got.hwm[tp], hwm, hwm)
				}
			}
			if ref == nil {
				ref = got
				// The reference itself must hold what was produced.
				for _, r := range got.recs["orders/0"] {
					want := in[2*int(r.GetOffset())]
					if !bytes.Equal(r.GetKey(), want.GetKey()) || (r.Key == nil) != (want.Key == nil) ||
						!bytes.Equal(r.GetValue(), want.GetValue()) || (r.Value == nil) != (want.Value == nil) || len(r.GetHeaders()) != len(want.GetHeaders()) {
						t.Fatalf("record 0/%d is %v, produced %v", r.GetOffset(), r, want)
					}
				}
				return
			}
			for tp := range wantHWM {
				sameRecords(t, "consume "+tp, got.recs[tp], ref.recs[tp])
			}
		})
	}
}
