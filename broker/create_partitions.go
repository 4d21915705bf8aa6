package broker

// CreatePartitions raises a topic's partition count. Records already stored
// stay where they are; from then on keys hash over the new count, so a key
// may land on another partition than before, as in Kafka. Refused: an
// unknown topic (NotFound); a count not above the current one or above
// MaxPartitions (InvalidArgument).

import (
	"context"
	"fmt"
	"os"
	"slices"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// CheckCreatePartitions says whether CreatePartitions(name, count) would be
// accepted now, without changing anything (Kafka's validate_only).
func (b *Broker) CheckCreatePartitions(name string, count int) error {
	t, err := b.lookup(name)
	if err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	return checkPartitionCount(t, count)
}

func checkPartitionCount(t *topic, count int) error {
	if count <= len(t.parts) {
		return invalidf("create partitions %s: the topic has %d partitions; the new count %d must be more (partitions cannot be removed)", t.name, len(t.parts), count)
	}
	if count > MaxPartitions {
		return invalidf("create partitions %s: %d partitions: want at most %d", t.name, count, MaxPartitions)
	}
	return nil
}

// CreatePartitions raises the partition count of topic name to count. The
// new partitions are created on disk before meta.db records the new count,
// so a crash leaves either the old topic or the new one (stray directories
// of a crashed attempt are removed by the next one).
func (b *Broker) CreatePartitions(ctx context.Context, name string, count int) (TopicInfo, error) {
	b.admin.Lock()
	defer b.admin.Unlock()
	t, err := b.lookupAdmin(ctx, name)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("create partitions: %w", err)
	}
	if err := checkPartitionCount(t, count); err != nil {
		return TopicInfo{}, err
	}
	lc := t.cfg.Load().logConfig(b)
	added := make([]partLog, 0, count-len(t.parts))
	undo := func() {
		for i, p := range added {
			p.Close()
			os.RemoveAll(b.partitionDir(name, len(t.parts)+i))
		}
	}
	for i := len(t.parts); i < count; i++ {
		dir := b.partitionDir(name, i)
		// A directory left by a crashed attempt holds no acknowledged record.
		if err := os.RemoveAll(dir); err != nil {
			undo()
			return TopicInfo{}, fmt.Errorf("create partitions %s: %w", name, err)
		}
		p, err := b.openPartition(ctx, name, t.id, i, lc) // partition_log.go
		if err != nil {
			undo()
			return TopicInfo{}, fmt.Errorf("create partitions %s: partition %d: %w", name, i, err)
		}
		added = append(added, p)
	}
	if err := b.meta.SetTopicPartitions(ctx, name, count); err != nil {
		undo()
		return TopicInfo{}, fmt.Errorf("create partitions %s: %w", name, err)
	}
	// A topic's partition slice never changes (readers index it without
	// locks), so the grown topic is a new value sharing the old partitions;
	// requests in flight finish on the old one.
	nt := &topic{name: t.name, id: t.id, created: t.created, parts: append(slices.Clip(t.parts), added...), stats: append(slices.Clip(t.stats), newPartStats(len(added))...)}
	nt.cfg.Store(t.cfg.Load())
	nt.rr.Store(t.rr.Load())
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		for _, p := range added {
			p.Close()
		}
		return TopicInfo{}, ErrClosed
	}
	b.topics[name] = nt
	b.mu.Unlock()
	b.log.Info("topic partitions added", "topic", name, "from", len(t.parts), "to", count)
	return nt.info(), nil
}

// CreatePartitions is the Connect handler.
func (s topicService) CreatePartitions(ctx context.Context, req *connect.Request[brokerv1.CreatePartitionsRequest]) (*connect.Response[brokerv1.CreatePartitionsResponse], error) {
	m := req.Msg
	ti, err := s.b.CreatePartitions(ctx, m.GetName(), int(m.GetPartitions()))
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.CreatePartitionsResponse{Topic: topicToProto(ti)}), nil
}
