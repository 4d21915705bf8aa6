package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchReq builds a Fetch request of one topic's partitions at offsets.
func fetchReq(version int16, topic string, offsets map[int32]int64, maxBytes, partMax int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes, req.SessionEpoch = version, -1, maxBytes, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 64; p++ {
		if off, ok := offsets[p]; ok {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, off, partMax, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// produceN appends n batches of per records to topic/p over c and returns
// each batch's size.
func produceN(t testing.TB, c *rawConn, topic string, p int32, n, per int) []int {
	t.Helper()
	var sizes []int
	for i := range n {
		raw := testBatch(t, numberedRecords(per), batchOpts{})
		sizes = append(sizes, len(raw))
		resp := c.roundTrip(produceReq(9, -1, topic, map[int32][]byte{p: raw}), int32(1000+i)).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(code))
		}
	}
	return sizes
}

func TestFetchLimits(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 2, nil)
	c := dialRaw(t, addr)
	sizes := produceN(t, c, "t", 0, 10, 5) // offsets 0..49 in batches of 5
	produceN(t, c, "t", 1, 1, 5)

	fetch := func(offsets map[int32]int64, maxBytes, partMax int32) *kmsg.FetchResponse {
		return c.roundTrip(fetchReq(11, "t", offsets, maxBytes, partMax), 1).(*kmsg.FetchResponse)
	}
	// From inside a batch: that batch first, and everything after.
	resp := fetch(map[int32]int64{0: 7}, 1<<20, 1<<20)
	p := resp.Topics[0].Partitions[0]
	bs := decodeBatches(t, p.RecordBatches)
	if p.ErrorCode != 0 || len(bs) != 9 || bs[0].batch.FirstOffset != 5 {
		t.Fatalf("from offset 7: %v, %d batches from %d", kerr.ErrorForCode(p.ErrorCode), len(bs), bs[0].batch.FirstOffset)
	}
	if p.HighWatermark != 50 || p.LastStableOffset != 50 || p.LogStartOffset != 0 || p.PreferredReadReplica != -1 {
		t.Fatalf("partition fields: hwm %d lso %d start %d replica %d", p.HighWatermark, p.LastStableOffset, p.LogStartOffset, p.PreferredReadReplica)
	}
	if resp.SessionID != 0 || resp.ErrorCode != 0 {
		t.Fatalf("session %d, error %d", resp.SessionID, resp.ErrorCode)
	}
	// A request limit of one byte still returns the first batch whole.
	resp = fetch(map[int32]int64{0: 0, 1: 0}, 1, 1<<20)
	got := 0
	for _, p := range resp.Topics[0].Partitions {
		got += len(decodeBatches(t, p.RecordBatches))
		if p.RecordBatches == nil {
			t.Fatalf("partition %d: null records; want empty", p.Partition)
		}
	}
	if got != 1 {
		t.Fatalf("max bytes 1: %d batches, want exactly 1", got)
	}
	// Partition limits: room for two and a half batches gives two.
	resp = fetch(map[int32]int64{0: 0}, 1<<20, int32(sizes[0]+sizes[1]+sizes[2]/2))
	if n := len(decodeBatches(t, resp.Topics[0].Partitions[0].RecordBatches)); n != 2 {
		t.Fatalf("partition max 2.5 batches: %d batches", n)
	}
	// At the high watermark: empty, not null, no error.
	resp = fetch(map[int32]int64{0: 50}, 1<<20, 1<<20)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.RecordBatches == nil || len(p.RecordBatches) != 0 {
		t.Fatalf("at hwm: %v, %d bytes", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
	}
	// Errors per partition.
	resp = fetch(map[int32]int64{0: 51, 1: 0, 9: 0}, 1<<20, 1<<20)
	codes := map[int32]int16{}
	for _, p := range resp.Topics[0].Partitions {
		codes[p.Partition] = p.ErrorCode
	}
	if codes[0] != kerr.OffsetOutOfRange.Code || codes[1] != 0 || codes[9] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("codes %v", codes)
	}
}

func TestFetchSessionsDeclined(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 1, nil)
	c := dialRaw(t, addr)
	req := fetchReq(11, "t", map[int32]int64{0: 0}, 1<<20, 1<<20)
	req.SessionEpoch = 0 // asks for a session
	if resp := c.roundTrip(req, 1).(*kmsg.FetchResponse); resp.SessionID != 0 || resp.ErrorCode != 0 {
		t.Fatalf("new session: id %d, error %d", resp.SessionID, resp.ErrorCode)
	}
	req.SessionID, req.SessionEpoch = 5, 1
	if resp := c.roundTrip(req, 2).(*kmsg.FetchResponse); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("in a session: error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

func TestFetchReadCommittedAndEpochs(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 3, nil)
	c := dialRaw(t, addr)
	produceN(t, c, "t", 0, 2, 3)
	req := fetchReq(11, "t", map[int32]int64{0: 0, 1: 0, 2: 0}, 1<<20, 1<<20)
	req.IsolationLevel = 1
	req.Topics[0].Partitions[1].CurrentLeaderEpoch = 1
	req.Topics[0].Partitions[2].CurrentLeaderEpoch = -2
	resp := c.roundTrip(req, 1).(*kmsg.FetchResponse)
	ps := resp.Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[0].LastStableOffset != 6 || ps[0].AbortedTransactions == nil || len(decodeBatches(t, ps[0].RecordBatches)) != 2 {
		t.Fatalf("read_committed: %v lso %d aborted %v", kerr.ErrorForCode(ps[0].ErrorCode), ps[0].LastStableOffset, ps[0].AbortedTransactions)
	}
	if ps[1].ErrorCode != kerr.UnknownLeaderEpoch.Code || ps[2].ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("epochs: %v, %v", kerr.ErrorForCode(ps[1].ErrorCode), kerr.ErrorForCode(ps[2].ErrorCode))
	}
}

// TestFetchLongPollWakesOnProduce: a fetch at the high watermark answers
// with the batch another connection produces, well before its MaxWait
// (which is longer than the test's connection deadline). That the waiter
// was parked first is checked in the broker's own test
// (TestFetchBatchesLongPoll); here the produce may also land first.
func TestFetchLongPollWakesOnProduce(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 2, nil)
	consumer, producer := dialRaw(t, addr), dialRaw(t, addr)
	req := fetchReq(11, "t", map[int32]int64{0: 0, 1: 0}, 1<<20, 1<<20)
	req.MaxWaitMillis, req.MinBytes = 120_000, 1
	consumer.send(req, 1)
	produceN(t, producer, "t", 1, 1, 3)
	_, body, err := consumer.recv()
	if err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if n := len(decodeBatches(t, resp.Topics[0].Partitions[1].RecordBatches)); n != 1 {
		t.Fatalf("long poll woke with %d batches on partition 1", n)
	}
}

func TestFetchByTopicID(t *testing.T) {
	t.Parallel()
	s, addr := newTestServer(t, Config{})
	createTopic(t, s, "t", 1, nil)
	c := dialRaw(t, addr)
	produceN(t, c, "t", 0, 2, 3)
	info, err := s.Broker().DescribeTopic("t")
	if err != nil {
		t.Fatal(err)
	}
	req := fetchReq(16, "", map[int32]int64{0: 3}, 1<<20, 1<<20)
	req.Topics[0].TopicID = info.ID
	resp := c.roundTrip(req, 1).(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	if resp.Topics[0].TopicID != info.ID || p.ErrorCode != 0 || len(decodeBatches(t, p.RecordBatches)) != 1 {
		t.Fatalf("by id: %v, id %x", kerr.ErrorForCode(p.ErrorCode), resp.Topics[0].TopicID)
	}
	req.Topics[0].TopicID = [16]byte{1, 2, 3}
	resp = c.roundTrip(req, 2).(*kmsg.FetchResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicID.Code {
		t.Fatalf("unknown id: %v", kerr.ErrorForCode(code))
	}
}
