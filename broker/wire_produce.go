package broker

// Direct protobuf decoding of Produce requests.
//
// protobuf-go decodes a ProduceRequest of n records into n ProduceRecord
// messages, n copies of the values, n keys and n timestamps: about three
// heap objects per record, and a profile of small durable produce requests
// (64 records of 1 KiB) spent 7% of its CPU there and much of its GC on what
// it left behind. produceCodec decodes the same bytes into the same message
// with four allocations per request whatever n is: one copy of the request
// bytes, which keys, values and header values alias, and slabs for the
// records, their pointers and their timestamps. The copy comes from a pool
// (internal/bufpool) and the handlers give it back once the request is
// queued (releaseProduceRequest): it was most of what a produce request
// allocated.
//
// The result equals proto.Unmarshal's (FuzzDecodeProduceRequest checks it,
// presence of optional fields included). Whatever the fast path does not
// handle exactly as protobuf-go would (unknown fields, a known field with
// another wire type, a singular message field repeated, which protobuf
// merges, malformed bytes) makes it fall back to proto.Unmarshal on the
// original bytes, so errors and corner cases are protobuf-go's own.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/internal/bufpool"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
)

// Field numbers of ProduceRequest and ProduceRecord (the .proto's
// contract; FuzzDecodeProduceRequest breaks on a renumbering).
const (
	wireProduceTopic       = 1
	wireProduceRecords     = 2
	wireProduceValueSchema = 3
	wireProduceKeySchema   = 4

	wireProduceRecordKey       = 1
	wireProduceRecordValue     = 2
	wireProduceRecordHeaders   = 3
	wireProduceRecordTimestamp = 4
	wireProduceRecordPartition = 5
)

// produceCodec is connect's binary protobuf codec ("proto") for the
// BrokerService, with ProduceRequest decoded by decodeProduceRequest.
// Every other message, and every marshal, goes through protobuf-go as in
// connect's own codec.
type produceCodec struct{}

// Name is the codec name connect matches against the content type.
func (produceCodec) Name() string { return "proto" }

// Marshal encodes a message as connect's codec does.
func (produceCodec) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.Marshal(pm)
}

// MarshalAppend appends a message's encoding to dst (connect uses it with
// pooled buffers).
func (produceCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, pm)
}

// MarshalStable is Marshal with deterministic map order (connect's GET
// requests use it).
func (produceCodec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

// IsBinary reports that the codec's output is binary.
func (produceCodec) IsBinary() bool { return true }

// Unmarshal decodes data into m: a ProduceRequest (alone or in a
// ProduceStreamRequest) by hand, the rest with
// protobuf-go. data is not retained (connect reuses its buffer).
func (produceCodec) Unmarshal(data []byte, m any) error {
	switch req := m.(type) {
	case *brokerv1.ProduceRequest:
		if decodeProduceRequest(data, req) {
			return nil
		}
		releaseProduceRequest(req) // nothing keeps the partial decoding
		proto.Reset(req)
	case *brokerv1.ProduceStreamRequest:
		if decodeProduceStreamRequest(data, req) {
			return nil
		}
		proto.Reset(req)
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// errProduceSlowPath makes decodeProduceRequest give the request to
// protobuf-go.
var errProduceSlowPath = errors.New("produce request needs protobuf-go")

// decodeProduceRequest decodes data into the empty req, reporting false
// when it met something only proto.Unmarshal handles exactly (req is then
// partly filled, and the caller resets it).
func decodeProduceRequest(data []byte, req *brokerv1.ProduceRequest) bool {
	// Count the records, so that their slabs are allocated once.
	n := 0
	for b := data; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		if num == wireProduceRecords && typ == protowire.BytesType {
			n++
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return false
		}
		b = b[l:]
	}
	buf := data
	d := produceDecoder{n: n}
	if n > 0 {
		// Keys, values and header values alias this copy (data is
		// connect's pooled buffer), itself from a pool: the handler gives
		// it back through the keeper (releaseProduceRequest).
		buf = bufpool.Get(len(data))
		copy(buf, data)
		d.records = make([]brokerv1.ProduceRecord, n+1)
		keeper := &d.records[n]
		keeper.Value, keeper.Partition = buf, &keeperMark
		req.Records = make([]*brokerv1.ProduceRecord, n, n+1)
		req.Records[:n+1][n] = keeper
		d.records = d.records[:n]
	}
	var sawValueSchema, sawKeySchema bool
	for b := buf; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		b = b[l:]
		if typ != protowire.BytesType {
			return false // an unknown field, or a known one with another type
		}
		v, l := protowire.ConsumeBytes(b)
		b = b[l:]
		switch num {
		case wireProduceTopic:
			if !utf8.Valid(v) {
				return false // protobuf-go's error names the field
			}
			req.Topic = string(v)
		case wireProduceRecords:
			i := len(d.records) - d.n
			r := &d.records[i]
			if err := d.record(v, r); err != nil {
				return false
			}
			req.Records[i] = r
			d.n--
		case wireProduceValueSchema, wireProduceKeySchema:
			// Rare (bare datums): protobuf-go decodes the Schema, which
			// copies what it keeps. A repeated one merges: slow path.
			s := &registryv1.Schema{}
			if err := proto.Unmarshal(v, s); err != nil {
				return false
			}
			if num == wireProduceValueSchema {
				if sawValueSchema {
					return false
				}
				sawValueSchema, req.ValueSchema = true, s
			} else {
				if sawKeySchema {
					return false
				}
				sawKeySchema, req.KeySchema = true, s
			}
		default:
			return false
		}
	}
	return true
}

// keeperMark marks a request's keeper: a record past the end of its
// Records (in the slice's spare capacity, so no one iterating the request
// sees it) whose Value is the pooled copy that the request's keys, values
// and header values alias. Only decodeProduceRequest makes one; a request
// decoded by protobuf-go, cloned, or appended to has none, and its bytes
// are left to the collector.
var keeperMark int32

// poisonReleasedRequests makes releaseProduceRequest overwrite each copy
// it gives back (set by the package's tests); requestCopiesReleased counts
// the copies given back.
var (
	poisonReleasedRequests atomic.Bool
	requestCopiesReleased  atomic.Int64
)

// releaseProduceRequest gives the pooled copy behind req's records back to
// its pool and empties req.Records. Call it when nothing refers to the
// records' keys, values or header values any more: the partition logs copy
// them when a batch is queued (Enqueue), so once a request is queued only
// errors may still point into it, and it is released on success only.
func releaseProduceRequest(req *brokerv1.ProduceRequest) {
	recs := req.GetRecords()
	if cap(recs) == len(recs) {
		return
	}
	keeper := recs[:len(recs)+1][len(recs)]
	if keeper == nil || keeper.Partition != &keeperMark || keeper.Value == nil {
		return
	}
	buf := keeper.Value
	keeper.Value = nil
	req.Records = nil
	requestCopiesReleased.Add(1)
	if poisonReleasedRequests.Load() {
		// Tests: a record still pointing into the copy reads this pattern
		// (and the race detector sees the write).
		for i := range buf[:cap(buf)] {
			buf[:cap(buf)][i] = 0xA5
		}
	}
	bufpool.Put(buf)
}

// Field numbers of ProduceStreamRequest.
const (
	wireProduceStreamID      = 1
	wireProduceStreamRequest = 2
)

// decodeProduceStreamRequest decodes data into the empty m, its request
// by decodeProduceRequest; false as there.
func decodeProduceStreamRequest(data []byte, m *brokerv1.ProduceStreamRequest) bool {
	for b := data; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		switch {
		case num == wireProduceStreamID && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return false
			}
			b = b[l:]
			m.Id = v // a repeated scalar: the last one wins, as in protobuf-go
		case num == wireProduceStreamRequest && typ == protowire.BytesType && m.Request == nil:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return false
			}
			b = b[l:]
			req := &brokerv1.ProduceRequest{}
			if !decodeProduceRequest(v, req) {
				return false
			}
			m.Request = req
		default:
			return false // unknown, mistyped, or a repeated request (protobuf-go merges)
		}
	}
	return true
}

// produceDecoder holds a request's slabs: records (filled from the front;
// n counts those left) and timestamps and partitions (made on first use).
type produceDecoder struct {
	records    []brokerv1.ProduceRecord
	n          int
	stamps     []timestamppb.Timestamp
	partitions []int32
}

// record decodes one ProduceRecord message v into r.
func (d *produceDecoder) record(v []byte, r *brokerv1.ProduceRecord) error {
	i := len(d.records) - d.n
	sawStamp := false
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return errProduceSlowPath
		}
		b = b[l:]
		switch {
		case num == wireProduceRecordPartition && typ == protowire.VarintType:
			x, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return errProduceSlowPath
			}
			b = b[l:]
			if d.partitions == nil {
				d.partitions = make([]int32, len(d.records))
			}
			d.partitions[i] = int32(x)
			r.Partition = &d.partitions[i]
		case typ == protowire.BytesType:
			f, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return errProduceSlowPath
			}
			b = b[l:]
			switch num {
			case wireProduceRecordKey:
				r.Key = f[:len(f):len(f)] // present: non-nil even when empty
			case wireProduceRecordValue:
				r.Value = f[:len(f):len(f)]
			case wireProduceRecordHeaders:
				h, err := decodeProduceHeader(f)
				if err != nil {
					return err
				}
				r.Headers = append(r.Headers, h)
			case wireProduceRecordTimestamp:
				if sawStamp {
					return errProduceSlowPath // protobuf merges the two
				}
				sawStamp = true
				if d.stamps == nil {
					d.stamps = make([]timestamppb.Timestamp, len(d.records))
				}
				ts := &d.stamps[i]
				if err := decodeTimestamp(f, ts); err != nil {
					return err
				}
				r.Timestamp = ts
			default:
				return errProduceSlowPath
			}
		default:
			return errProduceSlowPath
		}
	}
	return nil
}

// decodeProduceHeader decodes a Header message. A header's value has no
// presence: empty decodes as nil, as protobuf-go does.
func decodeProduceHeader(v []byte) (*brokerv1.Header, error) {
	h := &brokerv1.Header{}
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 || typ != protowire.BytesType {
			return nil, errProduceSlowPath
		}
		b = b[l:]
		f, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return nil, errProduceSlowPath
		}
		b = b[l:]
		switch num {
		case wireHeaderKey:
			if !utf8.Valid(f) {
				return nil, errProduceSlowPath
			}
			h.Key = string(f)
		case wireHeaderValue:
			if len(f) == 0 {
				h.Value = nil
			} else {
				h.Value = f[:len(f):len(f)]
			}
		default:
			return nil, errProduceSlowPath
		}
	}
	return h, nil
}

// decodeTimestamp decodes a google.protobuf.Timestamp message.
func decodeTimestamp(v []byte, ts *timestamppb.Timestamp) error {
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 || typ != protowire.VarintType {
			return errProduceSlowPath
		}
		b = b[l:]
		x, l := protowire.ConsumeVarint(b)
		if l < 0 {
			return errProduceSlowPath
		}
		b = b[l:]
		switch num {
		case wireTimestampSeconds:
			ts.Seconds = int64(x)
		case wireTimestampNanos:
			ts.Nanos = int32(x)
		default:
			return errProduceSlowPath
		}
	}
	return nil
}
