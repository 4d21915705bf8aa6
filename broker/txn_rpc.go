package broker

// ProduceAndCommit: the atomic produce-and-commit of Connect clients
// (stream processing's exactly-once), built on the Kafka listener's
// transactions (txn.go, broker/internal/txn): one request is one whole
// transaction of a transactional id, run by the broker in the steps a Kafka
// client takes, so the log, the coordinator and the recovery after a crash
// are the ones Kafka transactions already use:
//
//  1. the id's leftover transaction (an interrupted earlier request) is
//     aborted, or completed if it had reached Prepare;
//  2. the partitions the records go to and the group are added to a new
//     transaction (durable in meta.db, or PostgreSQL on a cluster node),
//     with the offsets pending in it;
//  3. each partition's records are appended as one transactional batch of
//     the id's producer id and epoch (invisible to read_committed readers);
//  4. PrepareCommit is stored, then a commit marker is written on every
//     partition and the offsets are stored in the group (completeTxn).
//
// A kill -9 anywhere before 4 leaves an Ongoing transaction: its records
// stay invisible, the offsets uncommitted, and the next request or
// InitProducer of the id (or its timeout) aborts it. After PrepareCommit is
// stored, Open (on a cluster, any node's ticker) finishes the commit.
// Either way a read_committed reader sees the records once and the offsets
// move with them.
//
// On a cluster node a request naming a group runs on the group's
// coordinator (forwarded there), which checks the member; the records go
// through the shared log's gate (txn_cluster.go) like a Kafka client's.
//
// Fencing: InitProducer bumps the id's epoch; every step checks the epoch
// against the coordinator (AddPartitions, the produce gate, End), so a
// zombie holding the old epoch fails at its next step and cannot commit.
// Optionally the request names a group member, checked as CommitOffsets
// checks it.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker/internal/group"
	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/txn"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// DefaultTxnTimeout is InitProducer's transaction timeout when the request
// names none.
const DefaultTxnTimeout = 60 * time.Second

// TxnTopicRecords are the records of one topic in a ProduceAndCommit.
type TxnTopicRecords struct {
	Topic   string
	Records []ProduceRecord
}

// ProduceAndCommitRequest is one atomic produce-and-commit.
type ProduceAndCommitRequest struct {
	TxnID      string
	ProducerID int64
	Epoch      int16
	Topics     []TxnTopicRecords
	// Group and Offsets are committed with the records.
	Group   string
	Offsets []OffsetCommit
	// MemberID and MemberEpoch, when MemberID is set, must be a current
	// member of Group owning every partition of Offsets.
	MemberID    string
	MemberEpoch int32
}

// Steps of ProduceAndCommit, reported to txnStepHook (tests kill the
// process at each).
const (
	txnStepBegun    = "begun"    // partitions, group and offsets are in the Ongoing transaction
	txnStepWritten  = "written"  // the transactional batches are durable
	txnStepPrepared = "prepared" // PrepareCommit is durable, no marker written
	txnStepMarked   = "marked"   // every marker is durable, offsets not stored
)

// txnStepHook, when set (tests only), is called after each step.
var txnStepHook func(step string)

func txnStep(step string) {
	if h := txnStepHook; h != nil {
		h(step)
	}
}

// txnLocks serialises the requests of one transactional id on this node.
type txnLocks struct {
	mu    sync.Mutex
	locks map[string]*txnLock
}

type txnLock struct {
	sync.Mutex
	refs int
}

// lockTxnID locks id; the caller has checked b.txns.
func (b *Broker) lockTxnID(id string) func() {
	ls := &b.txns.ids
	ls.mu.Lock()
	if ls.locks == nil {
		ls.locks = map[string]*txnLock{}
	}
	l := ls.locks[id]
	if l == nil {
		l = &txnLock{}
		ls.locks[id] = l
	}
	l.refs++
	ls.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		ls.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(ls.locks, id)
		}
		ls.mu.Unlock()
	}
}

// InitProducer registers transactional id txnID, or takes it over with its
// epoch bumped (fencing the previous holder; a transaction it left open is
// aborted first, one it was completing is finished first). timeout 0 means
// DefaultTxnTimeout.
func (b *Broker) InitProducer(ctx context.Context, txnID string, timeout time.Duration) (int64, int16, error) {
	if txnID == "" {
		return -1, -1, invalidf("init producer: the transactional id is empty")
	}
	if timeout == 0 {
		timeout = DefaultTxnTimeout
	}
	if _, err := b.txnCoord(); err != nil {
		return -1, -1, err
	}
	unlock := b.lockTxnID(txnID)
	defer unlock()
	// A transaction the previous holder left in a Prepare state is
	// finished here rather than answered with "retry".
	t, ok, err := b.txnGet(ctx, txnID)
	if err != nil {
		return -1, -1, fmt.Errorf("init producer %s: %w", txnID, err)
	}
	if ok && (t.State == txn.PrepareCommit || t.State == txn.PrepareAbort) {
		if err := b.completeTxn(ctx, t); err != nil {
			return -1, -1, fmt.Errorf("init producer %s: finish the previous transaction: %w", txnID, err)
		}
	}
	return b.InitTxnProducer(ctx, txnID, timeout, -1, -1)
}

// ProduceAndCommit runs req as one transaction (see the file comment) and
// returns where each topic's records were written, in request order.
func (b *Broker) ProduceAndCommit(ctx context.Context, req ProduceAndCommitRequest) ([][]ProduceResult, error) {
	id := req.TxnID
	where := "produce and commit " + id
	if id == "" {
		return nil, invalidf("produce and commit: the transactional id is empty")
	}
	if len(req.Offsets) > 0 {
		if err := ValidateGroupID(req.Group); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	if req.MemberID != "" && req.Group == "" {
		return nil, invalidf("%s: member %s without a group", where, req.MemberID)
	}
	if len(req.Topics) == 0 && len(req.Offsets) == 0 {
		return nil, invalidf("%s: no records and no offsets", where)
	}

	// Check, partition and encode everything before the transaction starts.
	plan, err := b.planTxnProduce(ctx, where, req.Topics)
	if err != nil {
		return nil, err
	}
	tps := make([]TopicPartition, len(req.Offsets))
	seen := map[TopicPartition]bool{}
	for i, oc := range req.Offsets {
		tp := TopicPartition{Topic: oc.Topic, Partition: oc.Partition}
		if seen[tp] {
			return nil, invalidf("%s: offsets: %s is listed twice", where, tp)
		}
		seen[tp], tps[i] = true, tp
		t, err := b.lookup(oc.Topic)
		if err != nil {
			return nil, fmt.Errorf("%s: offsets: %w", where, err)
		}
		p, err := t.partition(oc.Partition)
		if err != nil {
			return nil, fmt.Errorf("%s: offsets: %w", where, err)
		}
		if hwm := p.HighWatermark(); oc.Offset < 0 || oc.Offset > hwm {
			return nil, invalidf("%s: offsets: %s: offset %d is outside 0..%d (the high watermark)", where, tp, oc.Offset, hwm)
		}
	}

	if _, err := b.txnCoord(); err != nil {
		return nil, err
	}
	if req.Group != "" {
		// The group's coordinator runs it (the Connect handler forwards
		// the call there): it checks the member against its group state.
		if _, err := b.coordinate(ctx, req.Group); err != nil {
			return nil, err
		}
	}
	unlock := b.lockTxnID(id)
	defer unlock()
	// Once started, the transaction runs to its end whatever the client
	// does: a half-done one would only wait for its timeout.
	ctx = context.WithoutCancel(ctx)

	// 1. The id's leftover transaction.
	t, ok, err := b.txnGet(ctx, id)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", where, err)
	case !ok || t.ProducerID != req.ProducerID:
		return nil, fmt.Errorf("%s: producer %d: %w (call InitProducer first)", where, req.ProducerID, ErrInvalidProducerIDMapping)
	case t.Epoch != req.Epoch:
		return nil, fmt.Errorf("%s: epoch %d, the current one is %d: %w", where, req.Epoch, t.Epoch, ErrProducerFenced)
	case t.State == txn.Ongoing:
		b.log.Info("aborting the transaction an earlier produce-and-commit left open", "transactional_id", id, "partitions", len(t.Partitions))
		if err := b.EndTxn(ctx, id, req.ProducerID, req.Epoch, false); err != nil {
			return nil, fmt.Errorf("%s: abort the open transaction: %w", where, err)
		}
	case t.State == txn.PrepareCommit || t.State == txn.PrepareAbort:
		if err := b.completeTxn(ctx, t); err != nil {
			return nil, fmt.Errorf("%s: finish the previous transaction: %w", where, err)
		}
	}
	if req.MemberID != "" {
		var cerr error
		if derr := b.groupDo(ctx, func(s *group.State) { cerr = s.CheckCommit(req.Group, req.MemberID, req.MemberEpoch, tps) }); derr != nil {
			return nil, fmt.Errorf("%s: %w", where, derr)
		}
		if cerr != nil {
			return nil, fmt.Errorf("%s: %w", where, cerr)
		}
	}

	abort := func(cause error) error {
		if err := b.EndTxn(ctx, id, req.ProducerID, req.Epoch, false); err != nil && !errors.Is(err, ErrInvalidTxnState) {
			b.log.Warn("aborting a failed produce-and-commit", "transactional_id", id, "err", err)
		}
		return cause
	}

	// 2. Partitions, group, offsets: one state, stored once (the
	// partitions are known, durably, before anything is written to them).
	parts := make([]txn.Partition, 0, len(plan.batches))
	for _, pb := range plan.batches {
		parts = append(parts, txn.Partition{Topic: pb.topic.name, Partition: pb.partition})
	}
	var group string
	var pend []txn.GroupOffset
	if len(req.Offsets) > 0 {
		if pend, err = b.txnGroupOffsets(id, req.Offsets); err != nil {
			return nil, abort(fmt.Errorf("%s: %w", where, err))
		}
		group = req.Group
	}
	err = b.txnUpdate(ctx, id, false, func(c *txn.Coordinator, persist txn.Persist) error {
		return c.Add(id, req.ProducerID, req.Epoch, parts, group, pend, b.cfg.Now(), persist)
	})
	if err != nil {
		return nil, abort(fmt.Errorf("%s: %w", where, err))
	}
	txnStep(txnStepBegun)

	// 3. One transactional batch per partition, queued back to back.
	now := b.cfg.Now().UnixMilli()
	pending := make([]appendWait, len(plan.batches))
	for i, pb := range plan.batches {
		batch, err := pb.part.NewTxnBatch(pb.recs, req.ProducerID, req.Epoch, now)
		if err != nil {
			return nil, abort(fmt.Errorf("%s: %s/%d: %w", where, pb.topic.name, pb.partition, err))
		}
		release, err := b.txnProduceBegin(pb.topic.name, pb.partition, req.ProducerID, req.Epoch)
		if err != nil {
			return nil, abort(fmt.Errorf("%s: %w", where, err))
		}
		pending[i], err = pb.part.EnqueueBatch(batch)
		release()
		if err != nil {
			return nil, abort(fmt.Errorf("%s: %s/%d: %w", where, pb.topic.name, pb.partition, err))
		}
	}
	for i, w := range pending {
		pb := plan.batches[i]
		base, err := w.Wait(ctx)
		if err != nil {
			return nil, abort(fmt.Errorf("%s: %s/%d: %w", where, pb.topic.name, pb.partition, err))
		}
		for j, ri := range pb.index {
			plan.results[pb.topicIndex][ri] = ProduceResult{Partition: pb.partition, Offset: base + int64(j)}
		}
		pb.topic.notePartitionAppended(pb.partition, pb.recs) // stats.go
	}
	txnStep(txnStepWritten)

	// 4. Commit: PrepareCommit, markers, offsets.
	var prepared *txn.Txn
	err = b.txnUpdate(ctx, id, true, func(c *txn.Coordinator, persist txn.Persist) (err error) {
		prepared, err = c.End(id, req.ProducerID, req.Epoch, true, persist)
		return err
	})
	if err != nil {
		return nil, abort(fmt.Errorf("%s: commit: %w", where, err))
	}
	txnStep(txnStepPrepared)
	if prepared != nil {
		if err := b.completeTxn(ctx, prepared); err != nil {
			// PrepareCommit is stored: the ticker (or Open) finishes it.
			b.log.Error("completing a produce-and-commit", "transactional_id", id, "err", err)
			return nil, fmt.Errorf("%s: the commit is decided but not yet complete: %w (%v)", where, ErrConcurrentTransactions, err)
		}
	}
	return plan.results, nil
}

// txnPlan is a ProduceAndCommit's records, checked and partitioned.
type txnPlan struct {
	batches []txnPartBatch
	results [][]ProduceResult // per topic, in request order
}

// txnPartBatch is the records of one partition.
type txnPartBatch struct {
	topic      *topic
	topicIndex int
	partition  int32
	part       partLog
	recs       []log.Record
	index      []int // each record's index in its topic's request
}

// planTxnProduce checks every topic's records as Produce does (partitions,
// sizes, the validator) and partitions them.
func (b *Broker) planTxnProduce(ctx context.Context, where string, topics []TxnTopicRecords) (*txnPlan, error) {
	plan := &txnPlan{results: make([][]ProduceResult, len(topics))}
	seen := map[string]bool{}
	total := 0
	for ti, tr := range topics {
		if seen[tr.Topic] {
			return nil, invalidf("%s: topic %s is listed twice", where, tr.Topic)
		}
		seen[tr.Topic] = true
		t, err := b.lookup(tr.Topic)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		cfg := t.cfg.Load()
		nparts := len(t.parts)
		recs := tr.Records
		var bad []*RecordError
		for i := range recs {
			r := &recs[i]
			if r.Partition != nil && (*r.Partition < 0 || int(*r.Partition) >= nparts) {
				bad = append(bad, &RecordError{Index: i, Err: invalidf("partition %d does not exist (the topic has partitions 0..%d)", *r.Partition, nparts-1)})
				continue
			}
			total += r.encodedSize()
			if n := r.size(); n > cfg.MaxMessageBytes {
				bad = append(bad, &RecordError{Index: i, Err: invalidf("%d bytes exceeds max.message.bytes %d", n, cfg.MaxMessageBytes)})
			}
			if cfg.Compact && r.Key == nil {
				bad = append(bad, &RecordError{Index: i, Err: invalidf("a record on compacted topic %s needs a key", tr.Topic)})
			}
		}
		if len(bad) > 0 {
			return nil, &ProduceError{Topic: tr.Topic, Records: bad}
		}
		if len(recs) > 0 && b.cfg.Validator != nil {
			if err := b.cfg.Validator.ValidateProduce(ctx, tr.Topic, cfg, recs); err != nil {
				return nil, err
			}
		}
		keyer, _ := b.cfg.Validator.(PartitionKeyer)
		byPart := map[int32]int{} // partition -> index in plan.batches
		var appendTime int64
		if cfg.LogAppendTime {
			appendTime = b.cfg.Now().UnixMilli()
		}
		plan.results[ti] = make([]ProduceResult, len(recs))
		keyless := int32(-1) // this topic's keyless records' partition, as Produce picks it
		for i := range recs {
			r := &recs[i]
			var p int32
			switch {
			case r.Partition != nil:
				p = *r.Partition
			case r.Key != nil && keyer != nil:
				p = keyPartition(keyer.PartitionKey(tr.Topic, cfg, r.Key), nparts)
			case r.Key != nil:
				p = keyPartition(r.Key, nparts)
			default:
				if keyless < 0 {
					keyless = int32((t.rr.Add(1) - 1) % uint32(nparts))
				}
				p = keyless
			}
			bi, ok := byPart[p]
			if !ok {
				bi = len(plan.batches)
				byPart[p] = bi
				plan.batches = append(plan.batches, txnPartBatch{topic: t, topicIndex: ti, partition: p, part: t.parts[p]})
			}
			ts := r.Timestamp
			if cfg.LogAppendTime {
				ts = appendTime
			}
			pb := &plan.batches[bi]
			pb.recs = append(pb.recs, log.Record{Timestamp: ts, Key: r.Key, Value: r.Value, Headers: r.Headers})
			pb.index = append(pb.index, i)
		}
	}
	if total > b.cfg.MaxRequestBytes {
		return nil, invalidf("%s: the records take %d bytes encoded; the limit per request is %d", where, total, b.cfg.MaxRequestBytes)
	}
	return plan, nil
}

// txnRPCError maps ProduceAndCommit's and InitProducer's errors.
func (b *Broker) txnRPCError(procedure string, err error) error {
	switch {
	case errors.Is(err, ErrProducerFenced), errors.Is(err, ErrInvalidProducerIDMapping), errors.Is(err, ErrInvalidTxnState):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, ErrConcurrentTransactions):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, ErrInvalidTxnTimeout):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, ErrGroupNotFound), errors.Is(err, ErrUnknownMember), errors.Is(err, ErrStaleEpoch), errors.Is(err, group.ErrInvalid), errors.Is(err, group.ErrClosed):
		return b.groupError(procedure, err)
	}
	return b.produceRPCError(procedure, err)
}

// InitProducer is the Connect handler.
func (s groupService) InitProducer(ctx context.Context, req *connect.Request[brokerv1.InitProducerRequest]) (*connect.Response[brokerv1.InitProducerResponse], error) {
	var timeout time.Duration
	if d := req.Msg.GetTimeout(); d != nil {
		if d.CheckValid() != nil || d.AsDuration() <= 0 {
			return nil, s.b.txnRPCError(req.Spec().Procedure, invalidf("init producer %s: timeout (seconds %d, nanos %d) is not a positive duration", req.Msg.GetTransactionalId(), d.GetSeconds(), d.GetNanos()))
		}
		timeout = d.AsDuration()
	}
	pid, epoch, err := s.b.InitProducer(ctx, req.Msg.GetTransactionalId(), timeout)
	if err != nil {
		return nil, s.b.txnRPCError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.InitProducerResponse{ProducerId: pid, ProducerEpoch: int32(epoch)}), nil
}

// ProduceAndCommit is the Connect handler.
func (s groupService) ProduceAndCommit(ctx context.Context, req *connect.Request[brokerv1.ProduceAndCommitRequest]) (*connect.Response[brokerv1.ProduceAndCommitResponse], error) {
	m := req.Msg
	if e := m.GetProducerEpoch(); e < 0 || e > 1<<15-1 {
		return nil, s.b.txnRPCError(req.Spec().Procedure, invalidf("produce and commit %s: producer_epoch %d is out of range", m.GetTransactionalId(), e))
	}
	r := ProduceAndCommitRequest{
		TxnID: m.GetTransactionalId(), ProducerID: m.GetProducerId(), Epoch: int16(m.GetProducerEpoch()),
		Group: m.GetGroup(), MemberID: m.GetMemberId(), MemberEpoch: m.GetMemberEpoch(),
	}
	for _, tr := range m.GetTopics() {
		recs := make([]ProduceRecord, len(tr.GetRecords()))
		for i, pr := range tr.GetRecords() {
			var hs []Header
			if len(pr.GetHeaders()) > 0 {
				hs = make([]Header, len(pr.GetHeaders()))
				for j, h := range pr.GetHeaders() {
					hs[j] = Header{Key: h.GetKey(), Value: h.GetValue()}
				}
			}
			recs[i] = ProduceRecord{Key: pr.Key, Value: pr.Value, Headers: hs, Partition: pr.Partition}
			if ts := pr.GetTimestamp(); ts != nil {
				if ts.CheckValid() != nil {
					return nil, s.b.txnRPCError(req.Spec().Procedure, invalidf("produce and commit %s: %s: record %d: timestamp (seconds %d, nanos %d) is not a valid time", r.TxnID, tr.GetTopic(), i, ts.GetSeconds(), ts.GetNanos()))
				}
				recs[i].Timestamp = ts.AsTime().UnixMilli()
			}
		}
		r.Topics = append(r.Topics, TxnTopicRecords{Topic: tr.GetTopic(), Records: recs})
	}
	for _, oc := range m.GetOffsets() {
		r.Offsets = append(r.Offsets, OffsetCommit{Topic: oc.GetTopic(), Partition: oc.GetPartition(), Offset: oc.GetOffset(), Metadata: oc.GetMetadata()})
	}
	res, err := s.b.ProduceAndCommit(ctx, r)
	if errors.Is(err, ErrNotCoordinator) {
		// A cluster node that does not coordinate the group: its
		// coordinator runs the whole request.
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.ProduceAndCommitRequest]) (*connect.Response[brokerv1.ProduceAndCommitResponse], error) {
			return c.ProduceAndCommit
		})
	}
	if err != nil {
		return nil, s.b.txnRPCError(req.Spec().Procedure, err)
	}
	out := &brokerv1.ProduceAndCommitResponse{Topics: make([]*brokerv1.TopicResults, len(res))}
	for i, rs := range res {
		tr := &brokerv1.TopicResults{Topic: r.Topics[i].Topic, Results: make([]*brokerv1.ProduceResult, len(rs))}
		for j, pr := range rs {
			tr.Results[j] = &brokerv1.ProduceResult{Partition: pr.Partition, Offset: pr.Offset}
		}
		out.Topics[i] = tr
	}
	return connect.NewResponse(out), nil
}
