package client

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// wireRecord is one record of a Subscribe or group Consume response as the
// consumer reads it. key and value alias the response's bytes (nil when the
// record has none); headers share one slice per response.
type wireRecord struct {
	partition  int32
	offset     int64
	timestamp  time.Time // zero when the record has none
	key, value []byte
	headers    []Header
}

// Field numbers of sluice.broker.v1.SubscribeResponse, Record, Header and
// google.protobuf.Timestamp (proto/sluice/broker/v1/broker.proto).
const (
	subRecordsField       = 1
	subPartitionField     = 2
	subHighWatermarkField = 3

	recPartitionField = 1
	recOffsetField    = 2
	recTimestampField = 3
	recKeyField       = 4
	recValueField     = 5
	recHeadersField   = 6

	hdrKeyField   = 1
	hdrValueField = 2

	tsSecondsField = 1
	tsNanosField   = 2
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

// recordsFields are the field numbers of a message that holds records of
// one partition: a SubscribeResponse or a group's ConsumeRecords (0 where
// the message has no such field).
type recordsFields struct {
	name                                     string
	records, partition, highWatermark, topic protowire.Number
}

var (
	subscribeResponseFields = recordsFields{name: "SubscribeResponse",
		records: subRecordsField, partition: subPartitionField, highWatermark: subHighWatermarkField}
	consumeRecordsFields = recordsFields{name: "ConsumeRecords",
		records: crRecordsField, partition: crPartitionField, highWatermark: crHighWatermarkField, topic: crTopicField}
)

// where names field num of the message, for errors.
func (f recordsFields) where(num protowire.Number) string {
	switch num {
	case f.records:
		return f.name + ".records"
	case f.partition:
		return f.name + ".partition"
	case f.highWatermark:
		return f.name + ".high_watermark"
	case f.topic:
		return f.name + ".topic"
	}
	return fmt.Sprintf("%s field %d", f.name, num)
}

// partitionRecords is such a message decoded by decodePartitionRecords.
type partitionRecords struct {
	topic         string
	partition     int32
	highWatermark int64
	records       []wireRecord
}

// decodeSubscribeResponse decodes b, the wire bytes of a
// sluice.broker.v1.SubscribeResponse (see decodePartitionRecords).
func decodeSubscribeResponse(b []byte, recs []wireRecord) (partitionRecords, error) {
	return decodePartitionRecords(b, subscribeResponseFields, recs)
}

// decodePartitionRecords decodes b, the wire bytes of a message with
// fields f, as proto.Unmarshal would (unknown fields and fields of an
// unexpected wire type skipped, the last of a repeated scalar wins, a
// repeated Timestamp merged, a string's UTF-8 checked), without reflection
// and without copying: the records' keys, values and header values alias
// b. Records are appended to recs[:0] (recs is reused when large enough)
// and header slices to one slice shared by the message.
func decodePartitionRecords(b []byte, f recordsFields, recs []wireRecord) (partitionRecords, error) {
	res := partitionRecords{records: recs[:0]}
	var hdrs []Header
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return res, wireError(f.name, n)
		}
		b = b[n:]
		switch {
		case (num == f.records || num == f.topic && f.topic != 0) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return res, wireError(f.where(num), n)
			}
			b = b[n:]
			if num == f.topic {
				if !utf8.Valid(v) {
					return res, fmt.Errorf("%s: invalid UTF-8", f.where(num))
				}
				res.topic = string(v)
				continue
			}
			var r wireRecord
			var err error
			if hdrs, err = decodeWireRecord(v, &r, hdrs); err != nil {
				return res, fmt.Errorf("%s.records[%d]: %w", f.name, len(res.records), err)
			}
			res.records = append(res.records, r)
		case (num == f.partition || num == f.highWatermark) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return res, wireError(f.where(num), n)
			}
			if num == f.partition {
				res.partition = int32(v)
			} else {
				res.highWatermark = int64(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return res, wireError(fmt.Sprintf("%s field %d", f.name, num), n)
			}
			b = b[n:]
		}
	}
	return res, nil
}

// decodeWireRecord decodes a sluice.broker.v1.Record into r, its headers
// appended to hdrs (returned).
func decodeWireRecord(b []byte, r *wireRecord, hdrs []Header) ([]Header, error) {
	first := len(hdrs)
	var (
		hasTS bool
		sec   int64
		nanos int32
	)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return hdrs, wireError("Record", n)
		}
		b = b[n:]
		switch {
		case num == recPartitionField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return hdrs, wireError("Record.partition", n)
			}
			r.partition = int32(v)
			b = b[n:]
		case num == recOffsetField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return hdrs, wireError("Record.offset", n)
			}
			r.offset = int64(v)
			b = b[n:]
		case num == recTimestampField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return hdrs, wireError("Record.timestamp", n)
			}
			// Occurrences of a message field merge: each one's fields
			// overwrite the ones before.
			var err error
			if sec, nanos, err = decodeTimestamp(v, sec, nanos); err != nil {
				return hdrs, fmt.Errorf("Record.timestamp: %w", err)
			}
			hasTS = true
			b = b[n:]
		case (num == recKeyField || num == recValueField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return hdrs, wireError("Record.key/value", n)
			}
			// A present field is non-nil, empty or not (the fields have
			// explicit presence): v is a slice of b, never nil.
			v = v[:len(v):len(v)]
			if num == recKeyField {
				r.key = v
			} else {
				r.value = v
			}
			b = b[n:]
		case num == recHeadersField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return hdrs, wireError("Record.headers", n)
			}
			h, err := decodeHeader(v)
			if err != nil {
				return hdrs, fmt.Errorf("Record.headers[%d]: %w", len(hdrs)-first, err)
			}
			hdrs = append(hdrs, h)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return hdrs, wireError(fmt.Sprintf("Record field %d", num), n)
			}
			b = b[n:]
		}
	}
	if hasTS {
		r.timestamp = time.Unix(sec, int64(nanos)).UTC()
	}
	if len(hdrs) > first {
		r.headers = hdrs[first:len(hdrs):len(hdrs)]
	}
	return hdrs, nil
}

// decodeTimestamp decodes a google.protobuf.Timestamp over sec and nanos.
func decodeTimestamp(b []byte, sec int64, nanos int32) (int64, int32, error) {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return sec, nanos, wireError("Timestamp", n)
		}
		b = b[n:]
		switch {
		case (num == tsSecondsField || num == tsNanosField) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return sec, nanos, wireError("Timestamp", n)
			}
			if num == tsSecondsField {
				sec = int64(v)
			} else {
				nanos = int32(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return sec, nanos, wireError(fmt.Sprintf("Timestamp field %d", num), n)
			}
			b = b[n:]
		}
	}
	return sec, nanos, nil
}

// decodeHeader decodes a sluice.broker.v1.Header. Its key is a proto3
// string: invalid UTF-8 is an error, as proto.Unmarshal says. An empty
// value is nil (the field has no presence).
func decodeHeader(b []byte) (Header, error) {
	var h Header
	var key []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return h, wireError("Header", n)
		}
		b = b[n:]
		switch {
		case (num == hdrKeyField || num == hdrValueField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return h, wireError("Header", n)
			}
			if num == hdrKeyField {
				key = v
			} else {
				h.Value = nil
				if len(v) > 0 {
					h.Value = v[:len(v):len(v)]
				}
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return h, wireError(fmt.Sprintf("Header field %d", num), n)
			}
			b = b[n:]
		}
	}
	if !utf8.Valid(key) {
		return h, errors.New("key: invalid UTF-8")
	}
	h.Key = string(key)
	return h, nil
}

// consumeTag is protowire.ConsumeTag that also refuses field numbers
// above protowire.MaxValidNumber, as proto.Unmarshal does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -2 // protowire's code of "invalid field number" (ParseError)
	}
	return num, typ, n
}

// wireError names where the protowire error of code n was met.
func wireError(where string, n int) error {
	return fmt.Errorf("%s: %w", where, protowire.ParseError(n))
}

// appendProtoRecords appends records decoded by the generated code as
// wireRecords; their bytes are shared, not copied.
func appendProtoRecords(dst []wireRecord, rs []*brokerv1.Record) []wireRecord {
	for _, r := range rs {
		dst = append(dst, wireFromProto(r))
	}
	return dst
}

// wireFromProto is r as a wireRecord, its bytes shared, not copied.
func wireFromProto(r *brokerv1.Record) wireRecord {
	w := wireRecord{partition: r.GetPartition(), offset: r.GetOffset(), key: r.Key, value: r.Value}
	if ts := r.GetTimestamp(); ts != nil {
		w.timestamp = ts.AsTime()
	}
	if hs := r.GetHeaders(); len(hs) > 0 {
		w.headers = make([]Header, len(hs))
		for i, h := range hs {
			w.headers[i] = Header{Key: h.GetKey(), Value: h.GetValue()}
		}
	}
	return w
}

// decodeSubscribeMessage decodes the records of msg, a SubscribeResponse
// received through wireCodec (its bytes in the unknown fields), or
// decoded by proto, or both, into recs[:0].
func decodeSubscribeMessage(msg *brokerv1.SubscribeResponse, recs []wireRecord) (partitionRecords, error) {
	res, err := decodeSubscribeResponse(msg.ProtoReflect().GetUnknown(), recs)
	if err != nil {
		return res, err
	}
	if rs := msg.GetRecords(); len(rs) > 0 {
		res.records = appendProtoRecords(res.records, rs)
	}
	if msg.GetPartition() != 0 {
		res.partition = msg.GetPartition()
	}
	if msg.GetHighWatermark() != 0 {
		res.highWatermark = msg.GetHighWatermark()
	}
	return res, nil
}
