package kafka_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeleteRecordsKadm: kadm's DeleteRecords moves the log start offset;
// ListOffsets earliest and a consumer from the start follow it, before and
// after a restart.
func TestDeleteRecordsKadm(t *testing.T) {
	n := startNode(t)
	ctx := testCtx(t)
	adm := newAdmin(t, n.Addr)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "dr"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, n.Addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		r := &kgo.Record{Topic: "dr", Partition: 0, Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	del := func(adm *kadm.Client, p int32, off int64) kadm.DeleteRecordsResponse {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "dr", Partition: p, At: off})
		res, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatalf("DeleteRecords(%d@%d): %v", p, off, err)
		}
		r, ok := res.Lookup("dr", p)
		if !ok {
			t.Fatalf("DeleteRecords(%d@%d): no answer for the partition: %v", p, off, res)
		}
		return r
	}
	start := func(adm *kadm.Client) int64 {
		t.Helper()
		l, err := adm.ListStartOffsets(ctx, "dr")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := l.Lookup("dr", 0)
		if !ok || o.Err != nil {
			t.Fatalf("ListStartOffsets: %v %v", o, o.Err)
		}
		return o.Offset
	}
	// consumeFromStart reads partition 0 from the earliest offset until
	// want records and returns their offsets.
	consumeFromStart := func(addr string, want int) []int64 {
		t.Helper()
		c := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"dr": {0: kgo.NewOffset().AtStart()}}))
		var offs []int64
		for len(offs) < want {
			fs := c.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %v, want %d records: %v", offs, want, err)
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
			fs.EachRecord(func(r *kgo.Record) { offs = append(offs, r.Offset) })
		}
		c.Close()
		return offs
	}

	if r := del(adm, 0, 4); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("DeleteRecords(0@4) = low watermark %d, %v; want 4", r.LowWatermark, r.Err)
	}
	if got := start(adm); got != 4 {
		t.Fatalf("earliest after DeleteRecords(4) = %d, want 4", got)
	}
	if got := consumeFromStart(n.Addr, 6); got[0] != 4 || len(got) != 6 {
		t.Fatalf("consumer from the start got offsets %v, want 4..9", got)
	}
	// Lower: no change. Past the high watermark: OFFSET_OUT_OF_RANGE.
	if r := del(adm, 0, 2); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("DeleteRecords(0@2) = %d, %v; want 4, no change", r.LowWatermark, r.Err)
	}
	if r := del(adm, 0, 11); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("DeleteRecords(0@11) past the high watermark 10 = %d, %v; want OFFSET_OUT_OF_RANGE", r.LowWatermark, r.Err)
	}
	// Unknown topic or partition, sent straight to node 0 (kadm would
	// answer those from metadata without asking).
	req := kmsg.NewPtrDeleteRecordsRequest()
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"nope", 0}, {"dr", 2}, {"dr", -1}} {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = tp.topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = tp.p, 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := cl.Broker(0).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range kresp.(*kmsg.DeleteRecordsResponse).Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != kerr.UnknownTopicOrPartition.Code || rp.LowWatermark != -1 {
				t.Errorf("DeleteRecords %s/%d: code %d, low watermark %d; want UNKNOWN_TOPIC_OR_PARTITION, -1", rt.Topic, rp.Partition, rp.ErrorCode, rp.LowWatermark)
			}
		}
	}
	// -1 is the high watermark: everything goes.
	if r := del(adm, 0, -1); r.Err != nil || r.LowWatermark != 10 {
		t.Fatalf("DeleteRecords(0@-1) = %d, %v; want the high watermark 10", r.LowWatermark, r.Err)
	}

	// After a restart the start holds; new records are read from it.
	n.Stop()
	n = startNode(t, withDataDir(n.Dir))
	adm = newAdmin(t, n.Addr)
	if got := start(adm); got != 10 {
		t.Fatalf("earliest after a restart = %d, want 10", got)
	}
	cl = newClient(t, n.Addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dr", Partition: 0, Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consumeFromStart(n.Addr, 1); len(got) != 1 || got[0] != 10 {
		t.Fatalf("consumer from the start after a restart got offsets %v, want [10]", got)
	}
}
