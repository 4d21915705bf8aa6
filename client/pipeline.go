package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// Pipelined sends ProduceAsync's batches on one ProduceStream instead of one
// Produce call each: the broker queues each batch as it arrives and
// answers them in the order sent, so with MaxInFlight above 1 the batches
// keep ProduceAsync call order per partition, which separate calls do not
// promise, and each batch costs the broker and the client less (no HTTP/2
// stream per request). It needs HTTP/2: to an http:// node the producer
// speaks cleartext HTTP/2 over a copy of the Conn's *http.Transport; to an
// https:// one the Conn's client must allow HTTP/2 (New's default does); a
// client that cannot fails the first batch saying so. Pipelined batches are not
// retried: a broken stream fails every batch in flight on it with the
// stream's error (any of them may have been appended), and the next batch
// opens a new stream. Produce is unaffected.
func Pipelined() ProducerOption { return func(o *producerOptions) { o.pipelined = true } }

// streamingBroker is the BrokerService over HTTP/2, which bidirectional
// streams need: for an http:// node, c's HTTP client's transport speaking
// only cleartext HTTP/2 (a client that also speaks HTTP/1.1 uses it for
// http:// URLs); otherwise c's own client (https:// negotiates HTTP/2 when
// the client allows it). Either way streamed messages go out whole
// (WholeMessages).
func (c *Conn) streamingBroker() brokerv1connect.BrokerServiceClient {
	c.streamsOnce.Do(func() {
		c.streams = brokerv1connect.NewBrokerServiceClient(WholeMessages(c.hc), c.baseURL, c.brokerOpts...)
		hc, ok := c.hc.(*http.Client)
		if !ok || !strings.HasPrefix(c.baseURL, "http://") {
			return
		}
		var t *http.Transport
		switch rt := hc.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = rt.Clone()
		default:
			return // a transport of the caller's own: used as it is
		}
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
		h2c := *hc
		h2c.Transport = t
		c.streams = brokerv1connect.NewBrokerServiceClient(WholeMessages(&h2c), c.baseURL, c.brokerOpts...)
	})
	return c.streams
}

// produceStream is a producer's open ProduceStream and the batches sent on
// it, oldest first, waiting for their answers.
type produceStream struct {
	stream *connect.BidiStreamForClient[brokerv1.ProduceStreamRequest, brokerv1.ProduceStreamResponse]
	cancel context.CancelFunc
	nextID uint64

	mu     sync.Mutex
	queue  [][]pendingRecord
	broken error // set once the stream failed; queue is then empty
}

// sendPipelinedLocked sends batch on the producer's stream, opening one
// when there is none or it broke. p.mu is held and an in-flight slot taken.
func (p *Producer[K, V]) sendPipelinedLocked(batch []pendingRecord) {
	s := p.stream
	if s != nil {
		s.mu.Lock()
		usable := s.broken == nil
		if usable {
			s.queue = append(s.queue, batch)
		}
		s.mu.Unlock()
		if !usable {
			s = nil
		}
	}
	if s == nil {
		// The receiver is not counted in p.wg: it lives as long as the
		// stream, which outlives Flush.
		ctx, cancel := context.WithCancel(context.Background())
		s = &produceStream{stream: p.conn.streamingBroker().ProduceStream(ctx), cancel: cancel, queue: [][]pendingRecord{batch}}
		p.stream = s
		go p.receive(s)
	}
	recs := make([]*brokerv1.ProduceRecord, len(batch))
	for i, b := range batch {
		recs[i] = b.rec
	}
	req := &brokerv1.ProduceStreamRequest{Id: s.nextID, Request: &brokerv1.ProduceRequest{Topic: p.topic, Records: recs}}
	s.nextID++
	if err := s.stream.Send(req); err != nil {
		// The stream is broken; Receive reports why once cancelled.
		s.cancel()
	}
}

// receive matches s's answers with its batches in order and calls their
// callbacks; when the stream fails it fails every batch left.
func (p *Producer[K, V]) receive(s *produceStream) {
	defer s.cancel()
	for id := uint64(0); ; id++ {
		resp, err := s.stream.Receive()
		if err == nil && resp.GetId() != id {
			err = fmt.Errorf("produce %s: broker answered request %d where %d was due", p.topic, resp.GetId(), id)
		}
		if err != nil && id == 0 && strings.Contains(err.Error(), "505") {
			// connect's handler refuses a bidirectional stream over HTTP/1.1
			// with status 505: say what to change.
			err = fmt.Errorf("%w (Pipelined needs HTTP/2 to the broker, and this client spoke HTTP/1.1: use an HTTP/2 client, such as New's default)", err)
		}
		s.mu.Lock()
		if err != nil {
			left := s.queue
			s.queue, s.broken = nil, err
			s.mu.Unlock()
			s.stream.CloseRequest()
			s.stream.CloseResponse()
			for _, batch := range left {
				p.answer(batch, nil, produceError(p.topic, err))
			}
			return
		}
		batch := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		p.answer(batch, resp.GetResponse().GetResults(), streamAnswerError(p.topic, resp.GetError()))
	}
}

// answer frees batch's in-flight slot and calls its callbacks with results
// (one per record) or err; the batch is then done (p.wg).
func (p *Producer[K, V]) answer(batch []pendingRecord, results []*brokerv1.ProduceResult, err error) {
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("produce %s: broker answered %d results for %d records", p.topic, len(results), len(batch))
	}
	<-p.inflight // before the callbacks, which may call ProduceAsync
	for i, b := range batch {
		if err != nil {
			b.done(Ack{}, err)
		} else {
			b.done(Ack{Partition: results[i].GetPartition(), Offset: results[i].GetOffset()}, nil)
		}
	}
	p.wg.Done()
}

// streamAnswerError is the error unary Produce would have returned for a
// refused stream request (nil for an accepted one): a *ProduceError over
// the *connect.Error with the same code, message and details.
func streamAnswerError(topic string, e *brokerv1.ProduceStreamError) error {
	if e == nil {
		return nil
	}
	var code connect.Code
	if code.UnmarshalText([]byte(e.GetCode())) != nil {
		code = connect.CodeUnknown
	}
	ce := connect.NewError(code, errors.New(e.GetMessage()))
	for _, a := range e.GetDetails() {
		m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			continue // a detail this client does not know
		}
		if d, err := connect.NewErrorDetail(m); err == nil {
			ce.AddDetail(d)
		}
	}
	return produceError(topic, ce)
}

// closeStream ends the producer's stream after its batches were answered.
func (p *Producer[K, V]) closeStream() {
	p.mu.Lock()
	s := p.stream
	p.stream = nil
	p.mu.Unlock()
	if s != nil {
		s.stream.CloseRequest()
		s.cancel()
	}
}
