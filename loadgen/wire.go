package loadgen

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// countingCodec is the protobuf codec of one catch-up stream of `sluice
// bench consume`. The load generator runs on the cores it measures, so
// building a Go message per record would be the client's cost counted
// against the server: instead, a SubscribeResponse is walked in its wire
// form, every record's framing and fields checked, and summarised (records,
// key and value bytes, last offset) in the codec, where the stream reads it
// after each Receive. Other messages are unmarshalled as usual. It serves
// one stream: Receive calls Unmarshal on the receiving goroutine.
type countingCodec struct {
	last wireSummary
}

// wireSummary is what a catch-up consumer needs of one SubscribeResponse.
type wireSummary struct {
	partition  int32
	hwm        int64
	records    int
	bytes      int64 // key and value bytes
	lastOffset int64 // of the last record; meaningful when records > 0
}

// Name is "proto": the codec replaces connect's binary protobuf codec.
func (c *countingCodec) Name() string { return "proto" }

// Marshal marshals requests as connect's protobuf codec does.
func (c *countingCodec) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("bench codec: %T is not a protobuf message", m)
	}
	return proto.Marshal(pm)
}

// Unmarshal summarises a SubscribeResponse into c.last, leaving only its
// partition and high watermark in m; anything else is unmarshalled.
func (c *countingCodec) Unmarshal(data []byte, m any) error {
	sr, ok := m.(*brokerv1.SubscribeResponse)
	if !ok {
		pm, ok := m.(proto.Message)
		if !ok {
			return fmt.Errorf("bench codec: %T is not a protobuf message", m)
		}
		return proto.Unmarshal(data, pm)
	}
	s, err := walkSubscribeResponse(data)
	if err != nil {
		return err
	}
	c.last = s
	proto.Reset(sr)
	sr.Partition, sr.HighWatermark = s.partition, s.hwm
	return nil
}

var errWire = errors.New("malformed protobuf")

// walkSubscribeResponse summarises the wire form of a SubscribeResponse.
func walkSubscribeResponse(b []byte) (wireSummary, error) {
	var s wireSummary
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return s, fmt.Errorf("SubscribeResponse: %w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			rec, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return s, fmt.Errorf("SubscribeResponse record %d: %w: %v", s.records, errWire, protowire.ParseError(n))
			}
			off, kv, err := walkRecord(rec)
			if err != nil {
				return s, fmt.Errorf("SubscribeResponse record %d: %w", s.records, err)
			}
			s.records++
			s.bytes += kv
			s.lastOffset = off
			b = b[n:]
		case (num == 2 || num == 3) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return s, fmt.Errorf("SubscribeResponse field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			if num == 2 {
				s.partition = int32(v)
			} else {
				s.hwm = int64(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return s, fmt.Errorf("SubscribeResponse field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return s, nil
}

// walkRecord returns a Record's offset and key plus value length, checking
// the framing of every field.
func walkRecord(b []byte) (offset, kv int64, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, fmt.Errorf("offset: %w: %v", errWire, protowire.ParseError(n))
			}
			offset = int64(v)
			b = b[n:]
		case (num == 4 || num == 5) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, 0, fmt.Errorf("field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			kv += int64(len(v))
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, fmt.Errorf("field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return offset, kv, nil
}
