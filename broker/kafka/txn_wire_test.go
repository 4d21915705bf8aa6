package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnClient drives one transactional producer over a raw connection.
type txnClient struct {
	t     *testing.T
	c     *rawConn
	id    string
	pid   int64
	epoch int16
	corr  int32
	seq   map[int32]int32
}

func (x *txnClient) rt(req kmsg.Request) kmsg.Response {
	x.corr++
	return x.c.roundTrip(req, x.corr)
}

func (x *txnClient) init() int16 {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.TransactionalID, req.TransactionTimeoutMillis = 4, &x.id, 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp := x.rt(req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode == 0 {
		x.pid, x.epoch, x.seq = resp.ProducerID, resp.ProducerEpoch, map[int32]int32{}
	}
	return resp.ErrorCode
}

func (x *txnClient) addPartitions(topic string, parts ...int32) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch = 3, x.id, x.pid, x.epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, parts
	req.Topics = append(req.Topics, rt)
	resp := x.rt(req).(*kmsg.AddPartitionsToTxnResponse)
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			return p.ErrorCode
		}
	}
	return 0
}

// produce sends n records as one transactional batch and returns the
// error code and base offset.
func (x *txnClient) produce(topic string, p int32, n int) (int16, int64) {
	raw := testBatch(x.t, numberedRecords(n), batchOpts{pid: x.pid, epoch: x.epoch, seq: x.seq[p], attrs: 0x10})
	req := produceReq(9, -1, topic, map[int32][]byte{p: raw})
	req.TransactionID = &x.id
	resp := x.rt(req).(*kmsg.ProduceResponse)
	rp := resp.Topics[0].Partitions[0]
	if rp.ErrorCode == 0 {
		x.seq[p] += int32(n)
	}
	return rp.ErrorCode, rp.BaseOffset
}

func (x *txnClient) end(commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = 3, x.id, x.pid, x.epoch, commit
	return x.rt(req).(*kmsg.EndTxnResponse).ErrorCode
}

func (x *txnClient) addOffsets(group string) int16 {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = 3, x.id, x.pid, x.epoch, group
	return x.rt(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode
}

func (x *txnClient) commitOffset(group, topic string, p int32, off int64) int16 {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version, req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = 3, x.id, group, x.pid, x.epoch
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = p, off
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return x.rt(req).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func codeIs(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(wantCode))
	}
}

// TestTransactionsWire walks a transactional producer through the
// protocol by hand: membership checks on produce, the LSO and
// aborted_transactions of read_committed fetches, EndTxn's repeat rules,
// fencing by a new InitProducerId (which aborts the open transaction),
// and require_stable.
func TestTransactionsWire(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 2, nil)
	x := &txnClient{t: t, c: dialRaw(t, addr), id: "tx-wire"}
	codeIs(t, "init", x.init(), nil)

	// A transactional batch for a partition not added is refused.
	code, _ := x.produce("t", 0, 2)
	codeIs(t, "produce before AddPartitionsToTxn", code, kerr.InvalidTxnState)
	codeIs(t, "EndTxn with nothing open", x.end(true), kerr.InvalidTxnState)
	codeIs(t, "add unknown topic", x.addPartitions("nope", 0), kerr.UnknownTopicOrPartition)

	// An aborted transaction: 0-2, marker at 3.
	codeIs(t, "add", x.addPartitions("t", 0), nil)
	code, base := x.produce("t", 0, 3)
	codeIs(t, "produce", code, nil)
	if base != 0 {
		t.Fatalf("first transactional batch at %d", base)
	}
	code, _ = x.produce("t", 1, 1)
	codeIs(t, "produce to partition 1, not added", code, kerr.InvalidTxnState)

	// While it is open: LSO 0 < HWM 3; read_committed sees nothing.
	fr := fetchReq(11, "t", map[int32]int64{0: 0}, 1<<20, 1<<20)
	fr.IsolationLevel = 1
	p := x.rt(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.HighWatermark != 3 || p.LastStableOffset != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("open transaction, read_committed: %v hwm %d lso %d %d bytes", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark, p.LastStableOffset, len(p.RecordBatches))
	}
	fr.IsolationLevel = 0
	p = x.rt(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.LastStableOffset != 0 || len(decodeBatches(t, p.RecordBatches)) != 1 {
		t.Fatalf("open transaction, read_uncommitted: lso %d, %d batches", p.LastStableOffset, len(decodeBatches(t, p.RecordBatches)))
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version, lo.ReplicaID, lo.IsolationLevel = 5, -1, 1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, -1, -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	if got := x.rt(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset; got != 0 {
		t.Fatalf("ListOffsets latest under read_committed = %d, want the LSO 0", got)
	}

	codeIs(t, "abort", x.end(false), nil)
	codeIs(t, "abort again", x.end(false), nil)
	codeIs(t, "commit after abort", x.end(true), kerr.InvalidTxnState)
	if got := x.rt(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset; got != 4 {
		t.Fatalf("ListOffsets latest under read_committed after the abort = %d, want 4", got)
	}

	// A committed transaction: 4-5, marker at 6.
	codeIs(t, "add again", x.addPartitions("t", 0), nil)
	code, base = x.produce("t", 0, 2)
	codeIs(t, "produce", code, nil)
	if base != 4 {
		t.Fatalf("second transaction at %d, want 4", base)
	}
	codeIs(t, "commit", x.end(true), nil)

	fr.IsolationLevel = 1
	p = x.rt(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	bs := decodeBatches(t, p.RecordBatches)
	if p.LastStableOffset != 7 || p.HighWatermark != 7 || len(bs) != 4 {
		t.Fatalf("after commit: lso %d hwm %d, %d batches (want 4: aborted data, marker, data, marker)", p.LastStableOffset, p.HighWatermark, len(bs))
	}
	if len(p.AbortedTransactions) != 1 || p.AbortedTransactions[0].ProducerID != x.pid || p.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("aborted_transactions = %+v, want producer %d from 0", p.AbortedTransactions, x.pid)
	}
	fr.Topics[0].Partitions[0].FetchOffset = 4
	if p = x.rt(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]; len(p.AbortedTransactions) != 0 {
		t.Fatalf("aborted_transactions from offset 4 = %+v, want none", p.AbortedTransactions)
	}

	// Offsets in a transaction stay pending: require_stable says so.
	codeIs(t, "add offsets", x.addOffsets("g"), nil)
	codeIs(t, "add partition", x.addPartitions("t", 1), nil)
	codeIs(t, "offset commit", x.commitOffset("g", "t", 0, 7), nil)
	codeIs(t, "offset commit for a group not added", x.commitOffset("other", "t", 0, 7), kerr.InvalidTxnState)
	stale := kmsg.NewPtrTxnOffsetCommitRequest()
	stale.Version, stale.TransactionalID, stale.Group, stale.ProducerID, stale.ProducerEpoch = 3, x.id, "g", x.pid, x.epoch
	stale.MemberID, stale.Generation = "gone-member", 4
	st := kmsg.NewTxnOffsetCommitRequestTopic()
	st.Topic = "t"
	sp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	sp.Partition, sp.Offset = 0, 3
	st.Partitions = append(st.Partitions, sp)
	stale.Topics = append(stale.Topics, st)
	codeIs(t, "offset commit by a member the group does not know", x.rt(stale).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group, of.RequireStable = 7, "g", true
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "t", []int32{0}
	of.Topics = append(of.Topics, ot)
	op := x.rt(of).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]
	codeIs(t, "require_stable while pending", op.ErrorCode, kerr.UnstableOffsetCommit)
	of.RequireStable = false
	if op = x.rt(of).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]; op.ErrorCode != 0 || op.Offset != -1 {
		t.Fatalf("offset fetch while pending: %v %d, want the last committed (none)", kerr.ErrorForCode(op.ErrorCode), op.Offset)
	}

	// A new producer with the same transactional id fences this one and
	// aborts its open transaction.
	code, _ = x.produce("t", 1, 2)
	codeIs(t, "produce to partition 1", code, nil)
	y := &txnClient{t: t, c: dialRaw(t, addr), id: "tx-wire"}
	codeIs(t, "init again", y.init(), nil)
	if y.pid != x.pid || y.epoch <= x.epoch {
		t.Fatalf("re-init: producer %d epoch %d, was %d epoch %d", y.pid, y.epoch, x.pid, x.epoch)
	}
	codeIs(t, "old epoch ends", x.end(true), kerr.ProducerFenced)
	code, _ = x.produce("t", 1, 1)
	codeIs(t, "old epoch produces", code, kerr.InvalidProducerEpoch)
	of.RequireStable = true
	if op = x.rt(of).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]; op.ErrorCode != 0 || op.Offset != -1 {
		t.Fatalf("offset after the fenced abort: %v %d, want none", kerr.ErrorForCode(op.ErrorCode), op.Offset)
	}
	fr = fetchReq(11, "t", map[int32]int64{1: 0}, 1<<20, 1<<20)
	fr.IsolationLevel = 1
	p = x.rt(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.LastStableOffset != p.HighWatermark || len(p.AbortedTransactions) != 1 {
		t.Fatalf("partition 1 after the fenced abort: lso %d hwm %d aborted %+v", p.LastStableOffset, p.HighWatermark, p.AbortedTransactions)
	}

	// The new producer commits offsets.
	codeIs(t, "y add offsets", y.addOffsets("g"), nil)
	codeIs(t, "y offset commit", y.commitOffset("g", "t", 0, 7), nil)
	codeIs(t, "y commit", y.end(true), nil)
	if op = x.rt(of).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]; op.ErrorCode != 0 || op.Offset != 7 {
		t.Fatalf("offset after commit: %v %d, want 7", kerr.ErrorForCode(op.ErrorCode), op.Offset)
	}
}
