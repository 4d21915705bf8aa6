package broker_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// TestProduceRequestCopiesAreReleased produces through unary Produce and
// ProduceStream at once, with every request copy given back to its pool
// overwritten (a record still pointing into one would read 0xA5s, and the
// race detector would see the write), refused requests among them: every
// record reads back as sent, and the copies were given back.
func TestProduceRequestCopiesAreReleased(t *testing.T) {
	broker.PoisonReleasedRequests.Store(true)
	defer broker.PoisonReleasedRequests.Store(false)
	released := broker.RequestCopiesReleased.Load()

	e := newEnv(t)
	e.createTopic("pool", 4, map[string]string{"max.message.bytes": "2000"})
	const writers, requests, perRequest = 4, 30, 32
	record := func(w, i, j int) *brokerv1.ProduceRecord {
		id := fmt.Sprintf("w%d-r%d-%d", w, i, j)
		return &brokerv1.ProduceRecord{
			Key:     []byte(id),
			Value:   bytes.Repeat([]byte(id), 300/len(id)+1),
			Headers: []*brokerv1.Header{{Key: "id", Value: []byte(id)}},
		}
	}
	request := func(w, i int) *brokerv1.ProduceRequest {
		req := &brokerv1.ProduceRequest{Topic: "pool"}
		for j := range perRequest {
			req.Records = append(req.Records, record(w, i, j))
		}
		return req
	}
	refused := func(w, i int) *brokerv1.ProduceRequest {
		req := request(w, i)
		req.Records[5].Value = bytes.Repeat([]byte{'x'}, 3000) // over max.message.bytes
		return req
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { // unary
			for i := range requests {
				if _, err := e.client.Produce(ctxT(t), connect.NewRequest(request(w, i))); err != nil {
					t.Errorf("produce %d/%d: %v", w, i, err)
					return
				}
				if _, err := e.client.Produce(ctxT(t), connect.NewRequest(refused(w, i))); connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("produce %d/%d over the limit: %v, want InvalidArgument", w, i, err)
					return
				}
			}
		})
		wg.Go(func() { // pipelined on a stream
			stream := e.client.ProduceStream(ctxT(t))
			go func() {
				for i := range requests {
					_ = stream.Send(&brokerv1.ProduceStreamRequest{Id: uint64(2 * i), Request: request(writers+w, i)})
					_ = stream.Send(&brokerv1.ProduceStreamRequest{Id: uint64(2*i + 1), Request: refused(writers+w, i)})
				}
				_ = stream.CloseRequest()
			}()
			for i := range 2 * requests {
				resp, err := stream.Receive()
				if err != nil {
					t.Errorf("stream %d answer %d: %v", w, i, err)
					return
				}
				if refusedOne := i%2 == 1; refusedOne != (resp.GetError() != nil) {
					t.Errorf("stream %d answer %d: error %v", w, i, resp.GetError())
				}
			}
			_ = stream.CloseResponse()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	seen := 0
	for p := range int32(4) {
		for _, r := range e.fetchAll("pool", p, 0) {
			var w, i, j int
			if _, err := fmt.Sscanf(string(r.GetKey()), "w%d-r%d-%d", &w, &i, &j); err != nil {
				t.Fatalf("partition %d offset %d: key %q: %v", p, r.GetOffset(), r.GetKey(), err)
			}
			want := record(w, i, j)
			if !bytes.Equal(r.GetValue(), want.GetValue()) || len(r.GetHeaders()) != 1 || !bytes.Equal(r.GetHeaders()[0].GetValue(), want.GetHeaders()[0].GetValue()) {
				t.Fatalf("partition %d offset %d: record %q came back as value %q, headers %v", p, r.GetOffset(), r.GetKey(), r.GetValue(), r.GetHeaders())
			}
			seen++
		}
	}
	if want := 2 * writers * requests * perRequest; seen != want {
		t.Errorf("%d records read back, want %d", seen, want)
	}
	if n := broker.RequestCopiesReleased.Load() - released; n < 2*writers*requests {
		t.Errorf("%d request copies given back, want at least %d (one per accepted request)", n, 2*writers*requests)
	}
}
