package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func TestListOffsets(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "lo", 2, nil)
	// Partition 0: timestamps 1000, 3000, 2000, 3000 at offsets 0..3;
	// partition 1 stays empty.
	var recs []broker.ProduceRecord
	for _, ts := range []int64{1000, 3000, 2000, 3000} {
		recs = append(recs, broker.ProduceRecord{Value: []byte("v"), Timestamp: ts, Partition: ptr(int32(0))})
	}
	if _, err := srv.Broker.Produce(testCtx(t), "lo", recs); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	ctx := testCtx(t)
	check := func(what string, lo kadm.ListedOffsets, err error, p int32, wantOff, wantTs int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		o, ok := lo.Lookup("lo", p)
		if !ok || o.Err != nil || o.Offset != wantOff || o.Timestamp != wantTs {
			t.Fatalf("%s partition %d: %+v; want offset %d timestamp %d", what, p, o, wantOff, wantTs)
		}
	}
	lo, err := adm.ListStartOffsets(ctx, "lo")
	check("start", lo, err, 0, 0, -1)
	lo, err = adm.ListEndOffsets(ctx, "lo")
	check("end", lo, err, 0, 4, -1)
	check("end", lo, err, 1, 0, -1)
	lo, err = adm.ListMaxTimestampOffsets(ctx, "lo")
	check("max timestamp", lo, err, 0, 1, 3000)
	check("max timestamp of an empty partition", lo, err, 1, -1, -1)
	lo, err = adm.ListOffsetsAfterMilli(ctx, 1500, "lo")
	check("after 1500", lo, err, 0, 1, 3000)
	// After every record: the broker answers -1, which kadm turns into the
	// end offset (the raw answer is checked below).
	lo, err = adm.ListOffsetsAfterMilli(ctx, 9000, "lo")
	check("after 9000", lo, err, 0, 4, -1)

	// read_committed latest, a bad partition and leader epochs, raw.
	cl := newClient(t, addr)
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = 1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo"
	for _, p := range []struct {
		part, epoch int32
		ts          int64
	}{{0, -1, -1}, {0, 0, -1}, {0, 1, -1}, {7, -1, -1}, {0, -1, 9000}} {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p.part, p.epoch, p.ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	missing := kmsg.NewListOffsetsRequestTopic()
	missing.Topic = "missing"
	missing.Partitions = []kmsg.ListOffsetsRequestTopicPartition{kmsg.NewListOffsetsRequestTopicPartition()}
	req.Topics = append(req.Topics, missing)
	resp := rawRequest[*kmsg.ListOffsetsResponse](t, cl, req)
	ps := resp.Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[0].Offset != 4 || ps[1].ErrorCode != 0 || ps[1].Offset != 4 || ps[1].LeaderEpoch != 0 {
		t.Fatalf("read_committed latest: %+v", ps[:2])
	}
	if ps[2].ErrorCode != kerr.UnknownLeaderEpoch.Code || ps[3].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("epoch 1 / partition 7: %+v", ps[2:4])
	}
	if ps[4].ErrorCode != 0 || ps[4].Offset != -1 || ps[4].Timestamp != -1 {
		t.Fatalf("after every record: %+v; want offset and timestamp -1", ps[4])
	}
	if c := resp.Topics[1].Partitions[0].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("missing topic: error %d", c)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "ep", 1, nil)
	if _, err := srv.Broker.Produce(testCtx(t), "ep", []broker.ProduceRecord{{Value: []byte("a")}, {Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	var r kadm.OffsetForLeaderEpochRequest
	r.Add("ep", 0, 0)
	res, err := adm.OffsetForLeaderEpoch(testCtx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := res["ep"][0]
	if !ok || got.Err != nil || got.LeaderEpoch != 0 || got.EndOffset != 2 {
		t.Fatalf("epoch 0: %+v", got)
	}
	var r2 kadm.OffsetForLeaderEpochRequest
	r2.Add("ep", 0, 5)
	res, err = adm.OffsetForLeaderEpoch(testCtx(t), r2)
	if err != nil {
		t.Fatal(err)
	}
	if got := res["ep"][0]; got.Err != nil || got.LeaderEpoch != -1 || got.EndOffset != -1 {
		t.Fatalf("epoch 5: %+v; want undefined (-1, -1)", got)
	}
	// An unknown topic and a current epoch above 0, raw.
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	for _, tc := range []struct {
		topic string
		epoch int32
	}{{"nope", -1}, {"ep", 1}} {
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = tc.topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch = tc.epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	req.ReplicaID = -1
	resp := rawRequest[*kmsg.OffsetForLeaderEpochResponse](t, newClient(t, addr), req)
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: error %d", c)
	}
	if c := resp.Topics[1].Partitions[0].ErrorCode; c != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current epoch 1: error %d", c)
	}
}

func ptr[T any](v T) *T { return &v }

// rawRequest sends req straight to node 0, without the client's sharding
// by topic (which would answer for unknown topics itself).
func rawRequest[R kmsg.Response](t testing.TB, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(0).Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}
