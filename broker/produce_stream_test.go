package broker_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// TestProduceStreamKeepsOrder sends requests pipelined on one stream
// without waiting for answers: every answer comes back in the order sent
// with the offsets a fetch finds, and each partition holds the records in
// the stream's order.
func TestProduceStreamKeepsOrder(t *testing.T) {
	e := newEnv(t)
	e.createTopic("s", 4, nil)
	stream := e.client.ProduceStream(ctxT(t))
	const requests, perRequest = 100, 7
	go func() {
		for i := range requests {
			req := &brokerv1.ProduceRequest{Topic: "s"}
			for j := range perRequest {
				n := i*perRequest + j
				req.Records = append(req.Records, kv("k"+strconv.Itoa(n%5), strconv.Itoa(n)))
			}
			if err := stream.Send(&brokerv1.ProduceStreamRequest{Id: uint64(1000 + i), Request: req}); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
		stream.CloseRequest()
	}()
	type at struct {
		p   int32
		off int64
	}
	where := map[at]int{} // (partition, offset) -> record number
	for i := range requests {
		resp, err := stream.Receive()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if resp.GetId() != uint64(1000+i) || resp.GetError() != nil {
			t.Fatalf("answer %d: id %d, error %v", i, resp.GetId(), resp.GetError())
		}
		if n := len(resp.GetResponse().GetResults()); n != perRequest {
			t.Fatalf("answer %d: %d results", i, n)
		}
		for j, r := range resp.GetResponse().GetResults() {
			where[at{r.GetPartition(), r.GetOffset()}] = i*perRequest + j
		}
	}
	if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last answer: %v, want EOF", err)
	}
	stream.CloseResponse()
	total := 0
	for p := range int32(4) {
		last := -1
		for _, r := range e.fetchAll("s", p, 0) {
			n, _ := strconv.Atoi(string(r.GetValue()))
			if n <= last {
				t.Errorf("partition %d offset %d holds record %d after record %d", p, r.GetOffset(), n, last)
			}
			if got, ok := where[at{p, r.GetOffset()}]; !ok || got != n {
				t.Errorf("partition %d offset %d holds record %d; its answer said %d (known %v)", p, r.GetOffset(), n, got, ok)
			}
			last = n
			total++
		}
	}
	if total != requests*perRequest {
		t.Errorf("%d records stored, want %d", total, requests*perRequest)
	}
}

// TestProduceStreamRefusalAnswersOneRequest: a refused request gets the
// error unary Produce returns (code, message, details) in its answer,
// nothing of it is written, and the requests around it are.
func TestProduceStreamRefusalAnswersOneRequest(t *testing.T) {
	e := newEnv(t, func(c *broker.Config) { c.Validator = &refusingValidator{} })
	e.createTopic("typed", 1, nil)
	bad := &brokerv1.ProduceRequest{Topic: "typed", Records: []*brokerv1.ProduceRecord{val("good"), val("bad")}}
	_, unaryErr := e.client.Produce(ctxT(t), connect.NewRequest(bad))
	var want *connect.Error
	if !errors.As(unaryErr, &want) {
		t.Fatalf("unary Produce: %v, want a refusal", unaryErr)
	}
	reqs := []*brokerv1.ProduceRequest{
		{Topic: "typed", Records: []*brokerv1.ProduceRecord{val("one")}},
		bad,
		{Topic: "missing", Records: []*brokerv1.ProduceRecord{val("x")}},
		nil, // no request at all
		{Topic: "typed", Records: []*brokerv1.ProduceRecord{val("two")}},
	}
	stream := e.client.ProduceStream(ctxT(t))
	for i, r := range reqs {
		if err := stream.Send(&brokerv1.ProduceStreamRequest{Id: uint64(i), Request: r}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseRequest()
	var got []string
	for range reqs {
		resp, err := stream.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.GetError(); e != nil {
			got = append(got, fmt.Sprintf("%d %s: %s", resp.GetId(), e.GetCode(), e.GetMessage()))
			if resp.GetId() == 1 {
				if len(e.GetDetails()) != len(want.Details()) || len(want.Details()) == 0 {
					t.Errorf("details %v, want %d as unary Produce's", e.GetDetails(), len(want.Details()))
				} else {
					var rej brokerv1.ProduceRejection
					if err := e.GetDetails()[0].UnmarshalTo(&rej); err != nil {
						t.Errorf("detail: %v", err)
					}
					wv, _ := want.Details()[0].Value()
					if !proto.Equal(&rej, wv) {
						t.Errorf("detail %v, want %v", &rej, wv)
					}
				}
			}
		} else {
			got = append(got, fmt.Sprintf("%d ok %v", resp.GetId(), resp.GetResponse().GetResults()))
		}
	}
	wantLines := []string{
		"0 ok []", // partition 0, offset 0: proto prints no zero fields
		"1 " + want.Code().String() + ": " + want.Message(),
		"2 not_found: produce: topic \"missing\": topic not found",
		"3 invalid_argument: produce stream: request 3 has no request",
		"4 ok [offset:1]",
	}
	for i := range wantLines {
		if i >= len(got) || got[i] != wantLines[i] {
			t.Errorf("answers:\n%q\nwant\n%q", got, wantLines)
			break
		}
	}
	if v := values(e.fetchAll("typed", 0, 0)); fmt.Sprint(v) != "[one two]" {
		t.Errorf("stored %q, want [one two]", v)
	}
}
