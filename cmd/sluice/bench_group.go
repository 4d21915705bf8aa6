package main

// `sluice bench consume --group G --consumers N`: the catch-up read of
// `bench consume`, done by N members of consumer group G through
// GroupService.Consume instead of N plain subscriptions. The broker assigns
// the partitions (the first member gets them all, then cooperative
// rebalances spread them as the others join, all inside the measurement),
// and every member commits its positions once a second, as a real group
// consumer does. G is reset to the earliest offsets first (it must have no
// members), so every run reads the whole backlog. The summary is bench
// consume's.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// benchCommitInterval is how often a bench group member commits.
const benchCommitInterval = time.Second

// registerGroupFlags adds --group to fs.
func registerGroupFlags(fs *flag.FlagSet, c *benchConfig) {
	fs.StringVar(&c.group, "group", "", "consume: read as the --consumers members of consumer `group` (reset to earliest first) instead of plain subscriptions")
}

// catchUp runs bench consume's measured read: plain subscriptions, or group
// members with --group.
func (r *benchRun) catchUp(ctx context.Context, ends map[int32]int64) error {
	if r.cfg.group == "" {
		return r.runConsumers(ctx, ends, false)
	}
	return r.runGroupConsumers(ctx, ends)
}

// groupProgress tracks how far the group got in each partition, whoever
// owned it: the run ends when every partition reached its end, and records
// delivered again after a rebalance (at least once) are not counted twice.
type groupProgress struct {
	mu        sync.Mutex
	next      map[int32]int64 // partition -> first offset not yet delivered
	remaining map[int32]int64 // partition -> end still to reach
	again     int64           // records delivered more than once
	done      chan struct{}
}

// delivered notes a chunk of partition p and returns how many of its
// records, and bytes, are new; done closes once every partition reached
// its end.
func (g *groupProgress) delivered(p int32, recs []*brokerv1.Record) (n, bytes int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rec := range recs {
		if rec.GetOffset() < g.next[p] {
			g.again++
			continue
		}
		n++
		bytes += int64(len(rec.GetValue()) + len(rec.GetKey()))
	}
	g.next[p] = max(g.next[p], recs[len(recs)-1].GetOffset()+1)
	if end, ok := g.remaining[p]; ok && g.next[p] >= end {
		delete(g.remaining, p)
		if len(g.remaining) == 0 {
			close(g.done)
		}
	}
	return n, bytes
}

func (r *benchRun) runGroupConsumers(ctx context.Context, ends map[int32]int64) error {
	c := r.cfg
	admin := brokerv1connect.NewGroupServiceClient(benchHTTPClient(), r.base, benchClientOpts...)
	if _, err := admin.ResetOffsets(ctx, connect.NewRequest(&brokerv1.ResetOffsetsRequest{
		Group: c.group, Topic: c.topic, To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST},
	})); err != nil {
		return fmt.Errorf("reset group %s to earliest: %w", c.group, err)
	}
	prog := &groupProgress{next: map[int32]int64{}, remaining: map[int32]int64{}, done: make(chan struct{})}
	defer func() {
		fmt.Fprintf(r.progress, "group %s: %d record(s) delivered again after rebalances (not counted)\n", c.group, prog.again)
	}()
	for p, end := range ends {
		if end > 0 {
			prog.remaining[p] = end
		}
	}
	if len(prog.remaining) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, c.consumers)
	var wg sync.WaitGroup
	for range c.consumers {
		client := brokerv1connect.NewGroupServiceClient(benchHTTPClient(), r.base, benchClientOpts...)
		wg.Go(func() {
			if err := r.groupMember(ctx, client, prog); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		})
	}
	select {
	case <-prog.done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	select {
	case <-prog.done:
		return nil
	default:
		return ctx.Err()
	}
}

// groupMember is one member: a Consume stream that counts records and
// commits its positions every benchCommitInterval.
func (r *benchRun) groupMember(ctx context.Context, client brokerv1connect.GroupServiceClient, prog *groupProgress) error {
	c := r.cfg
	st, err := client.Consume(ctx, connect.NewRequest(&brokerv1.ConsumeRequest{
		Group:           c.group,
		Subscription:    &brokerv1.Subscription{Topics: []string{c.topic}},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	}))
	if err != nil {
		return err
	}
	defer st.Close()
	var memberID string
	var epoch int32
	pos := map[int32]int64{}
	lastCommit := time.Now()
	commit := func() error {
		if len(pos) == 0 {
			return nil
		}
		req := &brokerv1.CommitOffsetsRequest{Group: c.group, MemberId: memberID, MemberEpoch: epoch}
		for p, off := range pos {
			req.Offsets = append(req.Offsets, &brokerv1.OffsetCommit{Topic: c.topic, Partition: p, Offset: off})
		}
		_, err := client.CommitOffsets(ctx, connect.NewRequest(req))
		if connect.CodeOf(err) == connect.CodeFailedPrecondition {
			err = nil // a rebalance moved on; the next commit catches up
		}
		clear(pos)
		return err
	}
	for st.Receive() {
		switch ev := st.Msg().GetEvent().(type) {
		case *brokerv1.ConsumeResponse_Assignment:
			// Positions of partitions we lost cannot be committed any more.
			if err := commit(); err != nil {
				return err
			}
			memberID, epoch = ev.Assignment.GetMemberId(), ev.Assignment.GetMemberEpoch()
		case *brokerv1.ConsumeResponse_Records:
			recs := ev.Records.GetRecords()
			if len(recs) == 0 {
				continue
			}
			n, bytes := prog.delivered(ev.Records.GetPartition(), recs)
			if r.measuring.Load() {
				r.consumed.Add(n)
				r.consBytes.Add(bytes)
			}
			pos[ev.Records.GetPartition()] = recs[len(recs)-1].GetOffset() + 1
			if time.Since(lastCommit) >= benchCommitInterval {
				if err := commit(); err != nil {
					return err
				}
				lastCommit = time.Now()
			}
		}
	}
	if err := st.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
