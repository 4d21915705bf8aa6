package broker

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/anypb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// ProduceStream: produce requests pipelined on one stream.
//
// A unary Produce costs an HTTP/2 stream per request: HEADERS both ways,
// a handler goroutine, the interceptors, trailers. On the stream the
// receiving goroutine queues each request on its partitions as it arrives
// (queueProduce), in the order sent, and a second goroutine waits for each
// in turn and answers it: requests are in flight together as Kafka's are on
// one connection, and the records of a partition keep the stream's order,
// which concurrent unary calls do not promise.

// maxStreamInFlight bounds the requests of one stream that are queued and
// not yet answered: past it the server stops reading the stream until the
// oldest is answered, so a client that sends without reading its answers
// holds at most this many requests in the server's memory.
const maxStreamInFlight = 32

// streamAnswer is a queued request waiting for its answer.
type streamAnswer struct {
	id uint64
	q  *queuedProduce
}

// ProduceStream is the Connect handler.
func (s brokerService) ProduceStream(ctx context.Context, stream *connect.BidiStream[brokerv1.ProduceStreamRequest, brokerv1.ProduceStreamResponse]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proc := stream.Spec().Procedure
	answers := make(chan streamAnswer, maxStreamInFlight)
	sent := make(chan error, 1)
	go func() {
		var err error
		for a := range answers {
			if err != nil {
				continue // the stream is broken: let the reader see it end
			}
			resp := &brokerv1.ProduceStreamResponse{Id: a.id}
			results, perr := a.q.wait(ctx)
			switch {
			case perr != nil && connect.CodeOf(perr) == connect.CodePermissionDenied:
				resp.Error = streamError(perr) // the ACL guard's, as unary Produce answers it
			case perr != nil:
				resp.Error = streamError(s.b.produceRPCErrorFor(ctx, proc, perr))
			default:
				resp.Response = produceResponse(results)
			}
			if err = stream.Send(resp); err != nil {
				cancel() // stops the reader too
			}
		}
		sent <- err
	}()
	err := s.receiveStream(ctx, stream.Conn(), answers)
	close(answers)
	if serr := <-sent; err == nil {
		err = serr
	}
	return err
}

// receiveStream reads the stream's requests until it ends and queues each;
// a request the ACL guard refused is answered with its error.
func (s brokerService) receiveStream(ctx context.Context, conn connect.StreamingHandlerConn, answers chan<- streamAnswer) error {
	for {
		msg := &brokerv1.ProduceStreamRequest{}
		err := conn.Receive(msg)
		var q *queuedProduce
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && connect.CodeOf(err) == connect.CodePermissionDenied && msg.GetRequest() != nil:
			// The server's ACL guard checks each message after reading it.
			q = answered(nil, err)
		case err != nil:
			return err
		case msg.GetRequest() == nil:
			q = answered(nil, invalidf("produce stream: request %d has no request", msg.GetId()))
		default:
			q = s.b.queueProduceProto(ctx, msg.GetRequest())
			if q.err == nil {
				releaseProduceRequest(msg.GetRequest()) // as unary Produce does
			}
		}
		select {
		case answers <- streamAnswer{id: msg.GetId(), q: q}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// streamError is err (a *connect.Error from produceRPCErrorFor) as a
// stream answer's error.
func streamError(err error) *brokerv1.ProduceStreamError {
	ce := connectError(err)
	out := &brokerv1.ProduceStreamError{Code: ce.Code().String(), Message: ce.Message()}
	for _, d := range ce.Details() {
		out.Details = append(out.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type(), Value: d.Bytes()})
	}
	return out
}
