package kafka

// Fetch (key 1), versions 4-16; from v13 topics travel as topic ids
// (UNKNOWN_TOPIC_ID, 100, for an id no live topic has).
//
// Behaviour (broker.FetchBatches does the reading):
//   - Whole stored record batches, sent as stored: a partition's answer
//     starts with the batch that contains the fetch offset (the client
//     skips the records before it) and adds whole batches while they fit
//     PartitionMaxBytes and MaxBytes; the first batch of the first
//     partition with data always goes out (KIP-74). MaxBytes is clamped to
//     55 MiB (Kafka's fetch.max.bytes) rather than refused. Records are not
//     decoded.
//   - Long poll: with MaxWaitMillis the answer waits until MinBytes are
//     there, the wait ends, a partition errs, or the server drains; an
//     append to any fetched partition wakes it. It runs in stage 2, so the
//     connection keeps reading.
//   - HighWatermark, LastStableOffset (the first offset of the oldest open
//     transaction, else the high watermark), LogStartOffset;
//     PreferredReadReplica -1. A partition with nothing to send gets an
//     empty (not null) record set.
//   - read_committed (isolation level 1) stops each partition at its last
//     stable offset, counts only those bytes toward MinBytes, and answers
//     AbortedTransactions: the aborted transactions overlapping the
//     batches returned, which the client drops.
//   - Errors per partition: UNKNOWN_TOPIC_OR_PARTITION (3),
//     OFFSET_OUT_OF_RANGE (1), UNKNOWN_LEADER_EPOCH (75) for a current
//     leader epoch above 0 and FENCED_LEADER_EPOCH (74) below -1 (every
//     partition is at epoch 0), KAFKA_STORAGE_ERROR (56) for a damaged log.
//   - Fetch sessions (KIP-227) are declined: every answer is full with
//     SessionID 0; a request in an existing session (epoch > 0) gets
//     FETCH_SESSION_ID_NOT_FOUND (70), and the client starts over without
//     one.
//
// Zero copy (01_fetch_frame.go): on a plain TCP connection the batches of a
// read_uncommitted fetch go from the segment files to the socket with
// sendfile(2); read_committed fetches (trimmed at the last stable offset)
// and other connections copy them once out of the segments and writev.

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.Fetch, 4, 16, handleFetch) }

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 5 * time.Minute

func handleFetch(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 && req.SessionEpoch > 0 {
		// We never hand out a session, so the client's is unknown.
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil, nil
	}
	readCommitted := req.IsolationLevel == 1

	// Lay out the response in request order; the partitions the core reads
	// are listed in fetch, pointing back at their response slot.
	var fetch broker.FetchBatchesRequest
	var slots []*kmsg.FetchResponseTopicPartition
	b := c.Server().Broker()
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		t := &resp.Topics[i]
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		var idErr error
		if req.Version >= 13 {
			rt.Topic, idErr = b.TopicByID(broker.TopicID(rt.TopicID))
		}
		t.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			p := &t.Partitions[j]
			*p = kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
			p.PreferredReadReplica = -1
			p.RecordBatches = []byte{}
			if readCommitted {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			switch {
			case idErr != nil:
				p.ErrorCode = kerr.UnknownTopicID.Code
				if !errors.Is(idErr, broker.ErrUnknownTopicID) {
					p.ErrorCode = kerr.NotLeaderForPartition.Code // closing
				}
				continue
			case rp.CurrentLeaderEpoch > 0:
				p.ErrorCode = kerr.UnknownLeaderEpoch.Code
				continue
			case rp.CurrentLeaderEpoch < -1:
				p.ErrorCode = kerr.FencedLeaderEpoch.Code
				continue
			}
			fetch.Partitions = append(fetch.Partitions, broker.FetchBatchesPartition{
				Topic: rt.Topic, Partition: rp.Partition, Offset: rp.FetchOffset, MaxBytes: int(rp.PartitionMaxBytes),
				Dst: getFetchBuffer(),
			})
			slots = append(slots, p)
		}
	}
	fetch.MaxBytes = int(req.MaxBytes)
	fetch.MinBytes = int(req.MinBytes)
	fetch.MaxWait = min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, maxFetchWait)
	fetch.ReadCommitted = readCommitted
	// Zero copy (sendfile) on plain TCP; TLS and other connections take
	// bytes.
	_, fetch.Files = c.nc.(*net.TCPConn)

	wait := func() kmsg.Response {
		ctx, cancel := context.WithCancel(c.Context())
		defer cancel()
		go func() {
			select {
			case <-c.Server().Draining():
				cancel()
			case <-ctx.Done():
			}
		}()
		res := b.FetchBatches(ctx, fetch)
		for k, r := range res {
			p := slots[k]
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = r.HighWatermark, r.LastStable, r.LogStartOffset
			p.RecordBatches = r.Batches
			for _, a := range r.Aborted {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				p.AbortedTransactions = append(p.AbortedTransactions, at)
			}
			if r.Err != nil {
				p.ErrorCode = fetchCode(r.Err)
				p.RecordBatches = []byte{}
				if p.ErrorCode == kerr.KafkaStorageError.Code || p.ErrorCode == kerr.UnknownServerError.Code {
					c.Logger().Error("Kafka fetch failed", "topic", fetch.Partitions[k].Topic, "partition", p.Partition, "err", r.Err)
				}
			}
		}
		// The batches go out with writev, not copied into a buffer; the
		// read buffers return to the pool once written (Release).
		bufs := make([][]byte, len(res))
		ff := newFrameFiles()
		for k, r := range res {
			bufs[k] = r.Batches
			if r.Files == nil {
				continue
			}
			if r.Err != nil || c.Context().Err() != nil {
				r.Files.Release()
				continue
			}
			ff.by[slots[k]] = r.Files
			ff.list = append(ff.list, r.Files)
		}
		ff.seal()
		return fetchFrame{FetchResponse: resp, bufs: bufs, files: ff}
	}
	return nil, wait, nil
}

// fetchCode maps a fetch error to its Kafka error code.
func fetchCode(err error) int16 {
	switch {
	case errors.Is(err, broker.ErrTopicNotFound), errors.Is(err, broker.ErrPartitionNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, broker.ErrClosed):
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.KafkaStorageError.Code
}
