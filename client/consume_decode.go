package client

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Field numbers of sluice.broker.v1.ConsumeResponse and ConsumeRecords
// (proto/sluice/broker/v1/group.proto).
const (
	consumeRecordsEventField = 2

	crTopicField         = 1
	crPartitionField     = 2
	crRecordsField       = 3
	crHighWatermarkField = 4
)

// groupCodec is the "proto" codec of the Conn's GroupService client. The
// messages of a group's Consume stream are nearly all records, and
// proto.Unmarshal builds them an allocation per record, per timestamp and
// per key and value. A ConsumeResponse holding records is decoded here
// instead: its bytes are copied once out of connect's reused buffer, the
// records and their timestamps are allocated together, and keys, values
// and header values alias the copy. A message this walk does not take
// whole (an assignment, unknown fields, a message field given twice,
// invalid UTF-8, malformed bytes) goes through proto.Unmarshal, as does
// every other message: the result is always what proto.Unmarshal gives.
type groupCodec struct{ protoCodec }

// Unmarshal decodes a ConsumeResponse of records itself and unmarshals
// anything else with proto.
func (groupCodec) Unmarshal(data []byte, v any) error {
	if m, ok := v.(*brokerv1.ConsumeResponse); ok {
		if recs := decodeConsumeRecords(data); recs != nil {
			m.Reset()
			m.Event = &brokerv1.ConsumeResponse_Records{Records: recs}
			return nil
		}
	}
	return protoCodec{}.Unmarshal(data, v)
}

// decodeConsumeRecords decodes data, a ConsumeResponse whose only field is
// its records event, or returns nil for proto.Unmarshal to decode it.
func decodeConsumeRecords(data []byte) *brokerv1.ConsumeRecords {
	body, ok := onlyRecordsEvent(data)
	if !ok {
		return nil
	}
	// The first walk checks the framing of the fields and counts the
	// records, which the second one then fills in, allocated together.
	count := 0
	for b := body; len(b) > 0; {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil
		}
		switch {
		case (num == crTopicField || num == crRecordsField) && typ == protowire.BytesType,
			(num == crPartitionField || num == crHighWatermarkField) && typ == protowire.VarintType:
		default:
			return nil
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil
		}
		if num == crRecordsField {
			count++
		}
		b = b[n+m:]
	}
	buf := append([]byte(nil), body...)
	out := &brokerv1.ConsumeRecords{}
	slab := make([]brokerv1.Record, count)
	out.Records = make([]*brokerv1.Record, count)
	stamps := make([]timestamppb.Timestamp, count)
	i := 0
	for b := buf; len(b) > 0; {
		num, typ, n := consumeTag(b)
		b = b[n:]
		if typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if num == crPartitionField {
				out.Partition = int32(v)
			} else {
				out.HighWatermark = int64(v)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		b = b[n:]
		if num == crTopicField {
			if !utf8.Valid(v) {
				return nil
			}
			out.Topic = string(v)
			continue
		}
		r := &slab[i]
		out.Records[i] = r
		if !decodeRecordInto(v, r, &stamps[i]) {
			return nil
		}
		i++
	}
	return out
}

// decodeRecordInto decodes a sluice.broker.v1.Record into r, its keys and
// values aliasing b, its timestamp (if any) into ts. It reports false
// where proto.Unmarshal would decode differently than this walk does
// (unknown fields, a timestamp given twice, which would merge) or fail.
func decodeRecordInto(b []byte, r *brokerv1.Record, ts *timestamppb.Timestamp) bool {
	hasTS := false
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case (num == recPartitionField || num == recOffsetField) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			if num == recPartitionField {
				r.Partition = int32(v)
			} else {
				r.Offset = int64(v)
			}
			b = b[n:]
		case num == recTimestampField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || hasTS {
				return false
			}
			if !decodePlainTimestamp(v, ts) {
				return false
			}
			hasTS = true
			b = b[n:]
		case (num == recKeyField || num == recValueField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			v = v[:len(v):len(v)] // present: non-nil, empty or not
			if num == recKeyField {
				r.Key = v
			} else {
				r.Value = v
			}
			b = b[n:]
		case num == recHeadersField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !plainHeader(v) {
				return false
			}
			h, err := decodeHeader(v)
			if err != nil {
				return false
			}
			r.Headers = append(r.Headers, &brokerv1.Header{Key: h.Key, Value: h.Value})
			b = b[n:]
		default:
			return false
		}
	}
	if hasTS {
		r.Timestamp = ts
	}
	return true
}

// decodePlainTimestamp decodes a google.protobuf.Timestamp holding only
// its two fields into ts (decodeTimestamp skips other fields, which proto
// keeps as unknown), or reports false.
func decodePlainTimestamp(b []byte, ts *timestamppb.Timestamp) bool {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 || typ != protowire.VarintType || num != tsSecondsField && num != tsNanosField {
			return false
		}
		v, m := protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return false
		}
		if num == tsSecondsField {
			ts.Seconds = int64(v)
		} else {
			ts.Nanos = int32(v)
		}
		b = b[n+m:]
	}
	return true
}

// plainHeader reports whether b holds only a Header's two fields.
func plainHeader(b []byte) bool {
	return onlyFields(b, func(num protowire.Number, typ protowire.Type) bool {
		return (num == hdrKeyField || num == hdrValueField) && typ == protowire.BytesType
	})
}

// onlyFields reports whether every field of message b is one known says
// it knows; false too when b is malformed.
func onlyFields(b []byte, known func(protowire.Number, protowire.Type) bool) bool {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 || !known(num, typ) {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false
		}
		b = b[n+m:]
	}
	return true
}
