package broker

// Direct protobuf decoding of ProduceAndCommit requests (stream
// processing's transactions), as wire_produce.go does for Produce.
//
// A stream task commits every CommitInterval one ProduceAndCommitRequest
// holding its output, repartition and changelog records (up to
// MaxTxnRecords, 5,000 by default) and its input offsets. protobuf-go
// decodes it into a message, a key, a value and a timestamp per record;
// groupCodec decodes the same bytes into the same message with a handful
// of allocations per request: one copy of the bytes (keys, values and
// header values alias it), slabs for the topics, the records, their
// pointers and their timestamps, and one OffsetCommit per offset.
//
// The result equals proto.Unmarshal's (FuzzDecodeProduceAndCommitRequest
// checks it). Whatever the fast path does not handle as protobuf-go would
// (unknown fields, a known field with another wire type, a repeated
// singular message, malformed bytes, invalid UTF-8 in a string) falls back
// to proto.Unmarshal on the original bytes.

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Field numbers of ProduceAndCommitRequest, TopicRecords and OffsetCommit
// (the .proto's contract; FuzzDecodeProduceAndCommitRequest breaks on a
// renumbering).
const (
	wireTxnID          = 1
	wireTxnProducerID  = 2
	wireTxnEpoch       = 3
	wireTxnTopics      = 4
	wireTxnGroup       = 5
	wireTxnOffsets     = 6
	wireTxnMemberID    = 7
	wireTxnMemberEpoch = 8

	wireTopicRecordsTopic   = 1
	wireTopicRecordsRecords = 2

	wireOffsetTopic     = 1
	wireOffsetPartition = 2
	wireOffsetOffset    = 3
	wireOffsetMetadata  = 4
)

// groupCodec is connect's binary protobuf codec ("proto") for the
// GroupService: produceCodec with ProduceAndCommitRequest decoded by
// decodeProduceAndCommitRequest. Every other message, and every marshal,
// goes through protobuf-go.
type groupCodec struct{ produceCodec }

// Unmarshal decodes data into m: a ProduceAndCommitRequest by hand, the
// rest with protobuf-go. data is not retained (connect reuses its buffer).
func (c groupCodec) Unmarshal(data []byte, m any) error {
	if req, ok := m.(*brokerv1.ProduceAndCommitRequest); ok {
		if decodeProduceAndCommitRequest(data, req) {
			return nil
		}
		proto.Reset(req)
	}
	return c.produceCodec.Unmarshal(data, m)
}

// decodeProduceAndCommitRequest decodes data into the empty m, reporting
// false when it met something only proto.Unmarshal handles exactly (m is
// then partly filled, and the caller resets it).
func decodeProduceAndCommitRequest(data []byte, m *brokerv1.ProduceAndCommitRequest) bool {
	// Count the topics and each one's records, so that the slabs are
	// allocated once; the structure is checked on the way.
	var counts []int
	total := 0
	for b := data; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return false
		}
		if num == wireTxnTopics && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[:l])
			n, ok := countTopicRecords(v)
			if !ok {
				return false
			}
			counts = append(counts, n)
			total += n
		}
		b = b[l:]
	}
	buf := data
	if total > 0 {
		// Keys, values and header values alias this copy.
		buf = append([]byte(nil), data...)
	}
	d := produceDecoder{records: make([]brokerv1.ProduceRecord, total), n: total}
	ptrs := make([]*brokerv1.ProduceRecord, total)
	topics := make([]brokerv1.TopicRecords, len(counts))
	if len(counts) > 0 {
		m.Topics = make([]*brokerv1.TopicRecords, len(counts))
	}
	ti := 0
	for b := buf; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		b = b[l:]
		switch typ {
		case protowire.VarintType:
			x, l := protowire.ConsumeVarint(b)
			b = b[l:]
			switch num {
			case wireTxnProducerID:
				m.ProducerId = int64(x)
			case wireTxnEpoch:
				m.ProducerEpoch = int32(x)
			case wireTxnMemberEpoch:
				m.MemberEpoch = int32(x)
			default:
				return false // unknown, or a known field with another type
			}
		case protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			b = b[l:]
			switch num {
			case wireTxnID, wireTxnGroup, wireTxnMemberID:
				if !utf8.Valid(v) {
					return false // protobuf-go's error names the field
				}
				switch num {
				case wireTxnID:
					m.TransactionalId = string(v)
				case wireTxnGroup:
					m.Group = string(v)
				default:
					m.MemberId = string(v)
				}
			case wireTxnTopics:
				t := &topics[ti]
				if n := counts[ti]; n > 0 {
					start := total - d.n
					t.Records = ptrs[start : start+n : start+n]
				}
				if !d.topicRecords(v, t) {
					return false
				}
				m.Topics[ti] = t
				ti++
			case wireTxnOffsets:
				o, ok := decodeOffsetCommit(v)
				if !ok {
					return false
				}
				m.Offsets = append(m.Offsets, o)
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// countTopicRecords counts the records of a TopicRecords message,
// reporting false for malformed bytes.
func countTopicRecords(v []byte) (int, bool) {
	n := 0
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, false
		}
		b = b[l:]
		if num == wireTopicRecordsRecords && typ == protowire.BytesType {
			n++
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return 0, false
		}
		b = b[l:]
	}
	return n, true
}

// topicRecords decodes a TopicRecords message into t, whose Records are
// the pointers to fill (counted by countTopicRecords).
func (d *produceDecoder) topicRecords(v []byte, t *brokerv1.TopicRecords) bool {
	j := 0
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		b = b[l:]
		if typ != protowire.BytesType {
			return false
		}
		f, l := protowire.ConsumeBytes(b)
		b = b[l:]
		switch num {
		case wireTopicRecordsTopic:
			if !utf8.Valid(f) {
				return false
			}
			t.Topic = string(f)
		case wireTopicRecordsRecords:
			r := &d.records[len(d.records)-d.n]
			if err := d.record(f, r); err != nil {
				return false
			}
			t.Records[j] = r
			j++
			d.n--
		default:
			return false
		}
	}
	return true
}

// decodeOffsetCommit decodes an OffsetCommit message.
func decodeOffsetCommit(v []byte) (*brokerv1.OffsetCommit, bool) {
	o := &brokerv1.OffsetCommit{}
	for b := v; len(b) > 0; {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		switch {
		case typ == protowire.VarintType && (num == wireOffsetPartition || num == wireOffsetOffset):
			x, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return nil, false
			}
			b = b[l:]
			if num == wireOffsetPartition {
				o.Partition = int32(x)
			} else {
				o.Offset = int64(x)
			}
		case typ == protowire.BytesType && (num == wireOffsetTopic || num == wireOffsetMetadata):
			f, l := protowire.ConsumeBytes(b)
			if l < 0 || !utf8.Valid(f) {
				return nil, false
			}
			b = b[l:]
			if num == wireOffsetTopic {
				o.Topic = string(f)
			} else {
				o.Metadata = string(f)
			}
		default:
			return nil, false
		}
	}
	return o, true
}
