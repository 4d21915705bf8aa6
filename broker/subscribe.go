package broker

// Subscribe streams records of one or all partitions of a topic.
//
// Supported: one partition or all; start at an offset (the same in every
// subscribed partition), at the earliest stored offset, or at the high
// watermark (only new records; also the default when no start is given).
// Records stored at subscription time are streamed first (catch-up), then
// records as they are appended. Each message carries records of one
// partition in offset order, at most max_bytes (default 1 MiB, at most
// 16 MiB) unless a single record is larger. The first message of each
// partition holds at most FirstSubscribeChunkBytes: the subscriber starts
// on the first records while the next chunk is read, rather than waiting
// for a whole max_bytes (10,000 records) to be read and encoded.
//
// Once the response headers reach the client the start positions are fixed:
// a record produced after that is delivered.
//
// Flow control: one goroutine, the handler's, reads one chunk at a time,
// visiting the partitions round-robin, and hands it to stream.Send, which
// blocks while the client is slow. Nothing is read ahead, so a subscriber
// costs at most one chunk of memory whatever the number of partitions, and
// only while that chunk is read and sent: the read and message buffers come
// from a pool.
//
// Encoding: for clients of the binary protobuf codec (Connect, gRPC,
// gRPC-Web) each chunk is encoded straight from the log's read buffer into
// SubscribeResponse wire bytes, with no Go value per record (wire.go); JSON
// clients get the same messages built as Go values.
//
// Refused: unknown topic (NotFound); unknown partition or bad max_bytes
// (InvalidArgument); a start offset outside some partition's stored range,
// or retention overtaking a slow subscriber (OutOfRange). The stream ends
// when the client cancels, the topic is deleted (NotFound) or the broker
// drains for shutdown (Unavailable).

import (
	"context"
	"fmt"
	"reflect"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Subscribe limits.
const (
	DefaultSubscribeMaxBytes = 1 << 20
	MaxSubscribeMaxBytes     = 16 << 20
	// FirstSubscribeChunkBytes caps the first chunk of each subscribed
	// partition (and max_bytes, when larger).
	FirstSubscribeChunkBytes = 64 << 10
)

// StartPosition says where a subscription starts.
type StartPosition int

// Start positions.
const (
	// StartLatest starts at the high watermark: only new records.
	StartLatest StartPosition = iota
	// StartEarliest starts at the log start offset.
	StartEarliest
	// StartOffset starts at SubscribeRequest.Offset.
	StartOffset
)

// SubscribeRequest is what Subscribe streams.
type SubscribeRequest struct {
	Topic string
	// Partition, when non-nil, subscribes to one partition; nil means all.
	Partition *int32
	Start     StartPosition
	// Offset is the start offset when Start is StartOffset.
	Offset int64
	// MaxBytes caps one chunk; 0 means DefaultSubscribeMaxBytes.
	MaxBytes int
}

// Subscribe streams records to send until ctx is done, the topic is deleted
// or the broker drains. It calls ready once the start positions are fixed,
// before any send. send receives one partition's chunk; the records are the
// callee's to keep. An error from ready or send ends the subscription with
// that error. Subscribe returns ctx.Err() when ctx ends.
func (b *Broker) Subscribe(ctx context.Context, req SubscribeRequest, ready func() error, send func(partition int32, hwm int64, recs []Record) error) error {
	return b.subscribe(ctx, req, ready, &recordChunks{b: b, send: send})
}

// chunkSource reads and delivers the chunks of a subscription, one at a
// time: read reads one chunk of partition pi from pos and says where the
// next read starts and how many records the chunk holds; deliver, called
// after a read of at least one record and before the next read, sends it.
type chunkSource interface {
	read(t *topic, pi int32, pos int64, maxBytes int) (next int64, n int, err error)
	deliver(pi int32) error
}

// recordChunks is the chunkSource of Subscribe: records as Go values.
type recordChunks struct {
	b    *Broker
	send func(partition int32, hwm int64, recs []Record) error
	res  FetchResult
}

func (s *recordChunks) read(t *topic, pi int32, pos int64, maxBytes int) (int64, int, error) {
	res, err := s.b.readAt(t, pi, pos, MaxFetchMaxRecords, maxBytes)
	if err != nil {
		return pos, 0, err
	}
	if len(res.Records) == 0 {
		// Compaction removed everything up to the high watermark.
		return res.HighWatermark, 0, nil
	}
	s.res = res
	return res.Records[len(res.Records)-1].Offset + 1, len(res.Records), nil
}

func (s *recordChunks) deliver(pi int32) error {
	res := s.res
	s.res = FetchResult{}
	return s.send(pi, res.HighWatermark, res.Records)
}

// wireChunks is the chunkSource of the Connect handler for protobuf
// clients: each chunk is encoded straight from the log's read buffer into
// SubscribeResponse wire bytes (wire.go) and sent as the unknown fields of
// one reused, otherwise empty message, which connect's protobuf codec
// writes out as they are.
type wireChunks struct {
	b      *Broker
	stream *connect.ServerStream[brokerv1.SubscribeResponse]
	msg    *brokerv1.SubscribeResponse
	c      *wireChunk // between read and deliver
	hwm    int64
}

func (s *wireChunks) read(t *topic, pi int32, pos int64, maxBytes int) (int64, int, error) {
	c := getChunk(pi)
	hwm, _, err := s.b.readWireAt(t, pi, pos, MaxFetchMaxRecords, maxBytes, c)
	if err != nil {
		putChunk(c)
		return pos, 0, err
	}
	if c.n == 0 {
		putChunk(c)
		return hwm, 0, nil
	}
	s.c, s.hwm = c, hwm
	return c.last + 1, c.n, nil
}

func (s *wireChunks) deliver(pi int32) error {
	c := s.c
	s.c = nil
	defer putChunk(c)
	c.buf = appendVarintField(c.buf, wireSubPartition, uint64(int64(pi)))
	c.buf = appendVarintField(c.buf, wireSubHighWatermark, uint64(s.hwm))
	m := s.msg.ProtoReflect()
	m.SetUnknown(c.buf)
	err := s.stream.Send(s.msg)
	// Send has written the bytes out; c goes back to the pool.
	m.SetUnknown(nil)
	return err
}

// subscribe is Subscribe over any chunkSource.
func (b *Broker) subscribe(ctx context.Context, req SubscribeRequest, ready func() error, src chunkSource) error {
	if req.MaxBytes < 0 || req.MaxBytes > MaxSubscribeMaxBytes {
		return invalidf("subscribe %s: max_bytes %d: want 0 (default %d) to %d", req.Topic, req.MaxBytes, DefaultSubscribeMaxBytes, MaxSubscribeMaxBytes)
	}
	if req.MaxBytes == 0 {
		req.MaxBytes = DefaultSubscribeMaxBytes
	}
	t, err := b.lookup(req.Topic)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	var parts []int32
	if req.Partition != nil {
		if _, err := t.partition(*req.Partition); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		parts = []int32{*req.Partition}
	} else {
		parts = make([]int32, len(t.parts))
		for i := range parts {
			parts[i] = int32(i)
		}
	}
	pos := make([]int64, len(parts))
	sent := make([]bool, len(parts)) // whether a partition's first chunk went
	for i, pi := range parts {
		p := t.parts[pi]
		switch req.Start {
		case StartEarliest:
			pos[i] = p.LogStartOffset()
		case StartLatest:
			// Subscribers are read_committed: the latest stable offset, so
			// that an open transaction's records are seen once committed.
			pos[i] = p.LastStableOffset()
		case StartOffset:
			lso, hwm := p.LogStartOffset(), p.HighWatermark()
			if req.Offset < lso || req.Offset > hwm {
				return fmt.Errorf("subscribe %s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, req.Offset, ErrOffsetOutOfRange, lso, hwm)
			}
			pos[i] = req.Offset
		default:
			return invalidf("subscribe %s: unknown start position %d", req.Topic, req.Start)
		}
	}
	if err := ready(); err != nil {
		return err
	}

	// cases are the select cases of the idle wait: ctx, drain, then one
	// notification channel per subscribed partition.
	cases := make([]reflect.SelectCase, 2+len(parts))
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	cases[1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.drain)}
	wakes := make([]<-chan struct{}, len(parts))
	cursor := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-b.drain:
			return fmt.Errorf("subscribe %s: the server is shutting down: %w", t.name, ErrClosed)
		default:
		}
		// One pass: at most one chunk per partition, starting one further
		// each pass so no partition starves the others.
		progressed := false
		for k := range parts {
			i := (cursor + k) % len(parts)
			p := t.parts[parts[i]]
			// Notify before looking at the high watermark, so an append
			// between the look and the wait below still wakes us.
			wakes[i] = p.Notify()
			if pos[i] >= p.HighWatermark() {
				continue
			}
			maxBytes := req.MaxBytes
			if !sent[i] {
				maxBytes = min(maxBytes, FirstSubscribeChunkBytes)
			}
			next, n, err := src.read(t, parts[i], pos[i], maxBytes)
			if err != nil {
				if lerr := b.stillLive(t); lerr != nil {
					return fmt.Errorf("subscribe: %w", lerr)
				}
				return fmt.Errorf("subscribe %w", err)
			}
			pos[i] = next
			if n == 0 {
				continue
			}
			if err := src.deliver(parts[i]); err != nil {
				return err
			}
			sent[i] = true
			progressed = true
		}
		cursor = (cursor + 1) % len(parts)
		if progressed {
			continue
		}
		if b.waitHook != nil {
			b.waitHook()
		}
		if len(parts) == 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-b.drain:
				return fmt.Errorf("subscribe %s: the server is shutting down: %w", t.name, ErrClosed)
			case <-wakes[0]:
			}
		} else {
			for i, w := range wakes {
				cases[2+i].Dir = reflect.SelectRecv
				cases[2+i].Chan = reflect.ValueOf(w)
			}
			reflect.Select(cases)
		}
		// A wake-up also comes from a partition closing: a deleted topic or
		// a closing broker ends the stream.
		if err := b.stillLive(t); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
}

// Subscribe is the Connect handler.
func (s brokerService) Subscribe(ctx context.Context, req *connect.Request[brokerv1.SubscribeRequest], stream *connect.ServerStream[brokerv1.SubscribeResponse]) error {
	m := req.Msg
	sr := SubscribeRequest{Topic: m.GetTopic(), Partition: m.Partition, MaxBytes: int(m.GetMaxBytes())}
	switch st := m.GetStart().(type) {
	case *brokerv1.SubscribeRequest_Offset:
		sr.Start, sr.Offset = StartOffset, st.Offset
	case *brokerv1.SubscribeRequest_Position:
		switch st.Position {
		case brokerv1.StartPosition_START_POSITION_EARLIEST:
			sr.Start = StartEarliest
		case brokerv1.StartPosition_START_POSITION_LATEST, brokerv1.StartPosition_START_POSITION_UNSPECIFIED:
			sr.Start = StartLatest
		default:
			return s.b.rpcError(req.Spec().Procedure, invalidf("subscribe %s: unknown start position %d", m.GetTopic(), st.Position))
		}
	}
	ready := func() error {
		// Sends the response headers only: the client learns that the
		// start positions are fixed.
		return stream.Send(nil)
	}
	var src chunkSource
	if wireCodec(req.Header()) {
		src = &wireChunks{b: s.b, stream: stream, msg: new(brokerv1.SubscribeResponse)}
	} else {
		src = &recordChunks{b: s.b, send: func(p int32, hwm int64, recs []Record) error {
			return stream.Send(&brokerv1.SubscribeResponse{
				Records:       recordsToProto(p, recs),
				Partition:     p,
				HighWatermark: hwm,
			})
		}}
	}
	if err := s.b.subscribe(ctx, sr, ready, src); err != nil {
		if ctx.Err() != nil {
			// The client went away: nothing to report to it.
			return nil
		}
		return s.b.rpcError(req.Spec().Procedure, err)
	}
	return nil
}
