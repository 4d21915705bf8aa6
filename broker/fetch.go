package broker

// Fetch reads records of one partition from an offset.
//
// Supported: any offset in [log start offset, high watermark]; at the high
// watermark the answer is empty, or, with max_wait, the first records
// appended within max_wait (long poll). max_records defaults to 1000 (at most
// 10000) and max_bytes to 4 MiB (at most 16 MiB); at least one record is
// returned when one is there, whatever its size.
//
// Refused: unknown topic (NotFound); unknown partition, negative limits,
// max_wait above 5 minutes (InvalidArgument); an offset outside the stored
// range (OutOfRange, the message gives the range). A long poll ends early,
// empty, when the broker drains for shutdown.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Fetch limits.
const (
	DefaultFetchMaxRecords = 1000
	MaxFetchMaxRecords     = 10000
	DefaultFetchMaxBytes   = 4 << 20
	MaxFetchMaxBytes       = 16 << 20
	MaxFetchWait           = 5 * time.Minute
)

// FetchRequest is what Fetch reads.
type FetchRequest struct {
	Topic     string
	Partition int32
	Offset    int64
	// MaxRecords and MaxBytes: 0 means the defaults.
	MaxRecords, MaxBytes int
	// MaxWait: 0 answers at once.
	MaxWait time.Duration
}

// FetchResult is what Fetch read.
type FetchResult struct {
	// Records are owned by the caller.
	Records        []Record
	HighWatermark  int64
	LogStartOffset int64
}

// timeFromMs converts Unix milliseconds to a time.
func timeFromMs(ms int64) time.Time { return time.UnixMilli(ms) }

// Fetch reads records; with MaxWait it long-polls until records arrive, the
// wait ends, ctx is done or the broker drains.
func (b *Broker) Fetch(ctx context.Context, req FetchRequest) (FetchResult, error) {
	var res FetchResult
	readFailed := false
	err := b.fetch(ctx, req, func(t *topic, req *FetchRequest) (int, error) {
		var err error
		res, err = b.readAt(t, req.Partition, req.Offset, req.MaxRecords, req.MaxBytes)
		readFailed = err != nil
		return len(res.Records), err
	})
	if err != nil && !readFailed {
		return FetchResult{}, err
	}
	return res, err
}

// fetch is Fetch over any read function: it checks req and fills in its
// defaults, then calls read until read finds records, the wait ends (read's
// last answer stands), ctx is done or the broker drains. A read error ends
// it, wrapped.
func (b *Broker) fetch(ctx context.Context, req FetchRequest, read func(t *topic, req *FetchRequest) (int, error)) error {
	switch {
	case req.MaxRecords < 0 || req.MaxRecords > MaxFetchMaxRecords:
		return invalidf("fetch %s/%d: max_records %d: want 0 (default %d) to %d", req.Topic, req.Partition, req.MaxRecords, DefaultFetchMaxRecords, MaxFetchMaxRecords)
	case req.MaxBytes < 0 || req.MaxBytes > MaxFetchMaxBytes:
		return invalidf("fetch %s/%d: max_bytes %d: want 0 (default %d) to %d", req.Topic, req.Partition, req.MaxBytes, DefaultFetchMaxBytes, MaxFetchMaxBytes)
	case req.MaxWait < 0 || req.MaxWait > MaxFetchWait:
		return invalidf("fetch %s/%d: max_wait %v: want 0 to %v", req.Topic, req.Partition, req.MaxWait, MaxFetchWait)
	}
	if req.MaxRecords == 0 {
		req.MaxRecords = DefaultFetchMaxRecords
	}
	if req.MaxBytes == 0 {
		req.MaxBytes = DefaultFetchMaxBytes
	}
	t, err := b.lookup(req.Topic)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	p, err := t.partition(req.Partition)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	var deadline <-chan time.Time
	for {
		// Take the notification channel before reading so an append
		// between the read and the wait is not missed.
		wake := p.Notify()
		n, err := read(t, &req)
		if err != nil {
			return fmt.Errorf("fetch %w", err)
		}
		if n > 0 || req.MaxWait == 0 {
			return nil
		}
		if deadline == nil {
			timer := time.NewTimer(req.MaxWait)
			defer timer.Stop()
			deadline = timer.C
		}
		if b.waitHook != nil {
			b.waitHook()
		}
		select {
		case <-wake:
			// The channel also closes when the partition closes: make
			// sure the topic is still the live one before reading again.
			if err := b.stillLive(t); err != nil {
				return fmt.Errorf("fetch: %w", err)
			}
		case <-deadline:
			return nil
		case <-b.drain:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stillLive reports ErrTopicNotFound if t was deleted (or replaced by a new
// topic of the same name) and ErrClosed if the broker closed.
func (b *Broker) stillLive(t *topic) error {
	cur, err := b.lookup(t.name)
	if err != nil {
		return err
	}
	if cur != t {
		return fmt.Errorf("topic %q: %w (deleted)", t.name, ErrTopicNotFound)
	}
	return nil
}

// readAt reads one chunk of partition pi from offset, refusing offsets
// outside the stored range with a message naming topic, partition, offset
// and range.
func (b *Broker) readAt(t *topic, pi int32, offset int64, maxRecords, maxBytes int) (FetchResult, error) {
	p := t.parts[pi]
	lso, hwm := p.LogStartOffset(), p.HighWatermark()
	res := FetchResult{HighWatermark: hwm, LogStartOffset: lso}
	if offset < lso || offset > hwm {
		return res, fmt.Errorf("%s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, offset, ErrOffsetOutOfRange, lso, hwm)
	}
	if offset == hwm {
		return res, nil
	}
	// Record readers are read_committed: Read stops at the last stable
	// offset (txn.go), which is then the end this reader reports.
	stable := p.LastStableOffset()
	recs, err := p.Read(offset, maxRecords, maxBytes)
	if err != nil {
		if errors.Is(err, ErrOffsetOutOfRange) {
			// Retention moved the start between our check and the read.
			lso, hwm = p.LogStartOffset(), p.HighWatermark()
			return res, fmt.Errorf("%s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, offset, ErrOffsetOutOfRange, lso, hwm)
		}
		return res, fmt.Errorf("%s/%d: read at offset %d: %w", t.name, pi, offset, err)
	}
	res.Records = recs
	t.noteRead(pi, recs) // stats.go
	res.HighWatermark = stableEnd(p, offset, stable, len(recs))
	return res, nil
}

// Fetch is the Connect handler.
func (s brokerService) Fetch(ctx context.Context, req *connect.Request[brokerv1.FetchRequest]) (*connect.Response[brokerv1.FetchResponse], error) {
	m := req.Msg
	var wait time.Duration
	if mw := m.GetMaxWait(); mw != nil {
		if mw.CheckValid() != nil {
			return nil, s.b.rpcError(req.Spec().Procedure, invalidf("fetch %s/%d: max_wait (seconds %d, nanos %d) is not a valid duration", m.GetTopic(), m.GetPartition(), mw.GetSeconds(), mw.GetNanos()))
		}
		wait = mw.AsDuration()
	}
	fr := FetchRequest{
		Topic:      m.GetTopic(),
		Partition:  m.GetPartition(),
		Offset:     m.GetOffset(),
		MaxRecords: int(m.GetMaxRecords()),
		MaxBytes:   int(m.GetMaxBytes()),
		MaxWait:    wait,
	}
	if wireCodec(req.Header()) {
		msg, err := s.b.fetchWire(ctx, fr)
		if err != nil {
			return nil, s.b.rpcError(req.Spec().Procedure, err)
		}
		return connect.NewResponse(msg), nil
	}
	res, err := s.b.Fetch(ctx, fr)
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.FetchResponse{
		Records:        recordsToProto(m.GetPartition(), res.Records),
		HighWatermark:  res.HighWatermark,
		LogStartOffset: res.LogStartOffset,
	}), nil
}

// fetchWire is Fetch answering with a FetchResponse whose records are
// encoded straight from the log's read buffer (wire.go): the message
// carries the bytes as unknown fields, which connect's protobuf codec
// writes out as they are. The message owns its bytes (connect marshals it
// after the handler returns), so they are copied once out of the pooled
// chunk.
func (b *Broker) fetchWire(ctx context.Context, req FetchRequest) (*brokerv1.FetchResponse, error) {
	c := getChunk(req.Partition)
	defer putChunk(c)
	var hwm, lso int64
	err := b.fetch(ctx, req, func(t *topic, req *FetchRequest) (int, error) {
		// A long poll's earlier, empty read left nothing in c.
		c.buf, c.n = c.buf[:0], 0
		var err error
		hwm, lso, err = b.readWireAt(t, req.Partition, req.Offset, req.MaxRecords, req.MaxBytes, c)
		return c.n, err
	})
	if err != nil {
		return nil, err
	}
	c.buf = appendVarintField(c.buf, wireFetchHighWatermark, uint64(hwm))
	c.buf = appendVarintField(c.buf, wireFetchLogStartOffset, uint64(lso))
	msg := new(brokerv1.FetchResponse)
	// append to nil clears no memory that it then overwrites.
	msg.ProtoReflect().SetUnknown(append([]byte(nil), c.buf...))
	return msg, nil
}
