package client

// Transactions for exactly-once processing over Connect: a TxnProducer
// holds a transactional id (InitProducer fences any earlier holder) and
// commits a Txn, records to several topics plus a consumer group's offsets,
// all or nothing (GroupService.ProduceAndCommit). Readers see a committed
// Txn's records once, and never those of one that failed.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
)

// ErrFenced is what a TxnProducer's Commit or Init matches (errors.Is)
// when a newer holder of its transactional id exists: another instance
// called InitTxnProducer since. The fenced producer must stop; nothing of
// its refused Txn was written.
var ErrFenced = errors.New("transactional producer fenced: a newer instance holds the transactional id")

// TxnProducer commits Txns under one transactional id. It is not safe for
// concurrent Commits (the broker serialises them anyway).
type TxnProducer struct {
	conn  *Conn
	id    string
	pid   int64
	epoch int32
}

// InitTxnProducer takes transactional id id: the broker bumps its epoch,
// which fences any earlier holder, and aborts (or finishes committing) a
// transaction the earlier holder left. Read the group's committed offsets
// after it, not before: they then include everything the earlier holder
// committed. timeout (0: the broker's 60s) aborts a transaction left open
// that long.
func InitTxnProducer(ctx context.Context, conn *Conn, id string, timeout time.Duration) (*TxnProducer, error) {
	req := &brokerv1.InitProducerRequest{TransactionalId: id}
	if timeout > 0 {
		req.Timeout = durationpb.New(timeout)
	}
	backoff := 20 * time.Millisecond
	for {
		res, err := conn.groups.InitProducer(ctx, connect.NewRequest(req))
		if err == nil {
			return &TxnProducer{conn: conn, id: id, pid: res.Msg.GetProducerId(), epoch: res.Msg.GetProducerEpoch()}, nil
		}
		// Aborted: a transaction of the id is completing; it will be done
		// shortly.
		if connect.CodeOf(err) != connect.CodeAborted {
			return nil, txnError("init transactional producer "+id, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("init transactional producer %s: %w", id, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// ID is the transactional id.
func (p *TxnProducer) ID() string { return p.id }

// Txn is one transaction's records and offsets, built with AddRecord (or
// Producer.AddToTxn) and CommitOffset, committed by TxnProducer.Commit.
type Txn struct {
	// Group is the consumer group whose offsets the Txn commits.
	Group string
	// MemberID and MemberEpoch, when set, make the broker check that this
	// member owns every partition committed (CommitOffsets' check).
	MemberID    string
	MemberEpoch int32

	topics  []*brokerv1.TopicRecords
	index   map[string]int
	offsets []*brokerv1.OffsetCommit
	n       int
}

// AddRecord adds an encoded record for topic.
func (t *Txn) AddRecord(topic string, rec *brokerv1.ProduceRecord) {
	if t.index == nil {
		t.index = map[string]int{}
	}
	i, ok := t.index[topic]
	if !ok {
		i = len(t.topics)
		t.index[topic] = i
		t.topics = append(t.topics, &brokerv1.TopicRecords{Topic: topic})
	}
	t.topics[i].Records = append(t.topics[i].Records, rec)
	t.n++
}

// CommitOffset sets the group offset (the next offset to read) of a
// partition; a later call for the same partition replaces it.
func (t *Txn) CommitOffset(topic string, partition int32, offset int64) {
	t.CommitOffsetMetadata(topic, partition, offset, "")
}

// CommitOffsetMetadata is CommitOffset with the offset's metadata (at most
// the broker's limit, 4 KiB by default).
func (t *Txn) CommitOffsetMetadata(topic string, partition int32, offset int64, metadata string) {
	for _, o := range t.offsets {
		if o.Topic == topic && o.Partition == partition {
			o.Offset, o.Metadata = offset, metadata
			return
		}
	}
	t.offsets = append(t.offsets, &brokerv1.OffsetCommit{Topic: topic, Partition: partition, Offset: offset, Metadata: metadata})
}

// Len is the number of records added.
func (t *Txn) Len() int { return t.n }

// Empty reports whether the Txn has neither records nor offsets.
func (t *Txn) Empty() bool { return t.n == 0 && len(t.offsets) == 0 }

// Reset empties the Txn for reuse, keeping Group and the member.
func (t *Txn) Reset() {
	t.topics, t.offsets, t.n = t.topics[:0], t.offsets[:0], 0
	clear(t.index)
}

// TxnAcks are where one topic's records of a committed Txn were stored, in
// the order they were added.
type TxnAcks struct {
	Topic string
	Acks  []Ack
}

// Commit writes t's records and commits its offsets as one transaction.
// On success they are visible and committed; on ErrFenced (errors.Is) or
// any refusal nothing is. Any other error (the connection broke) leaves the
// outcome unknown until the id is taken again: call InitTxnProducer, then
// read the committed offsets, which say whether t was committed.
func (p *TxnProducer) Commit(ctx context.Context, t *Txn) ([]TxnAcks, error) {
	if t.Empty() {
		return nil, nil
	}
	if len(t.offsets) > 0 && t.Group == "" {
		return nil, fmt.Errorf("commit transaction %s: offsets need Txn.Group", p.id)
	}
	req := &brokerv1.ProduceAndCommitRequest{
		TransactionalId: p.id, ProducerId: p.pid, ProducerEpoch: p.epoch,
		Topics: t.topics, Group: t.Group, Offsets: t.offsets,
		MemberId: t.MemberID, MemberEpoch: t.MemberEpoch,
	}
	res, err := p.conn.groups.ProduceAndCommit(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, txnError("commit transaction "+p.id, err)
	}
	out := make([]TxnAcks, len(res.Msg.GetTopics()))
	for i, tr := range res.Msg.GetTopics() {
		out[i].Topic = tr.GetTopic()
		out[i].Acks = make([]Ack, len(tr.GetResults()))
		for j, r := range tr.GetResults() {
			out[i].Acks[j] = Ack{Partition: r.GetPartition(), Offset: r.GetOffset()}
		}
	}
	return out, nil
}

// txnError wraps a refusal, making a fenced producer match ErrFenced and a
// refused record list a *ProduceError.
func txnError(what string, err error) error {
	if connect.CodeOf(err) == connect.CodeFailedPrecondition && (strings.Contains(err.Error(), "producer fenced") || strings.Contains(err.Error(), "does not belong to this transactional id")) {
		return fmt.Errorf("%s: %w: %w", what, ErrFenced, err)
	}
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeInvalidArgument {
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				if rej, ok := v.(*brokerv1.ProduceRejection); ok {
					return fmt.Errorf("%s: %w", what, produceError(rej.GetTopic(), err))
				}
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// AddToTxn encodes key and value as the producer does and adds the record
// to t for the producer's topic. Nothing is sent until t is committed.
func (p *Producer[K, V]) AddToTxn(t *Txn, key K, value V, opts ...RecordOption) error {
	rec, _, err := p.encode(key, value, opts)
	if err != nil {
		return err
	}
	t.AddRecord(p.topic, rec)
	return nil
}

// RecordDecoder decodes raw records of one topic into typed Messages, as a
// Consumer does, for code that reads records itself (a GroupService
// Consume stream). Writer schemas are fetched once per id and cached in
// the Conn. Safe for concurrent use.
type RecordDecoder[K, V any] struct {
	topic string
	key   *sideDecoder[K]
	value *sideDecoder[V]
}

// NewRecordDecoder returns a decoder of topic's records with the key and
// value codecs, under the topic subject-name strategy.
func NewRecordDecoder[K, V any](conn *Conn, topic string, key Codec[K], value Codec[V]) (*RecordDecoder[K, V], error) {
	if key == nil || value == nil {
		return nil, fmt.Errorf("decoder %s: key and value codecs are required", topic)
	}
	return &RecordDecoder[K, V]{
		topic: topic,
		key:   newSideDecoder(conn, topic, serde.Key, serde.TopicName, key),
		value: newSideDecoder(conn, topic, serde.Value, serde.TopicName, value),
	}, nil
}

// Decode decodes r; a failure is a *DecodeError naming the record and side.
func (d *RecordDecoder[K, V]) Decode(ctx context.Context, r *brokerv1.Record) (Message[K, V], error) {
	c := Consumer[K, V]{topic: d.topic, key: d.key, value: d.value}
	return c.decode(ctx, r)
}
