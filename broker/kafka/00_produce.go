package kafka

// Produce (key 0), versions 3-11: record batch v2 only (v3 is the first
// version with it; librdkafka and every current client send it).
//
// Behaviour:
//   - acks 0, 1 and -1. Other values answer INVALID_REQUIRED_ACKS for every
//     partition. acks=0 sends no response; if a partition failed, the
//     connection is closed instead (as Kafka does), so the client notices.
//     acks 1 and -1 answer once the batch is durable under --fsync: there
//     is one replica, so they mean the same. TimeoutMillis is not used.
//   - One batch per partition, checked and refused per partition: the other
//     partitions of the request proceed (broker.ProduceBatches lists the
//     checks). Errors: UNKNOWN_TOPIC_OR_PARTITION (3), CORRUPT_MESSAGE (2)
//     for a bad CRC or unknown codec, INVALID_RECORD (87) for a malformed
//     batch, a control batch or records refused by schema enforcement,
//     MESSAGE_TOO_LARGE (10), RECORD_LIST_TOO_LARGE (18) when the
//     decompressed records exceed the log's batch limit,
//     UNSUPPORTED_COMPRESSION_TYPE (76) for zstd below v7,
//     OUT_OF_ORDER_SEQUENCE_NUMBER (45) and INVALID_PRODUCER_EPOCH (47) for
//     an idempotent producer's gap or old epoch,
//     KAFKA_STORAGE_ERROR (56) for a failed log, REQUEST_TIMED_OUT (7),
//     UNKNOWN_SERVER_ERROR (-1) with the reason for anything else (a
//     registry failure).
//   - Records that a data-contract rule with onFailure DLQ refuses are
//     written to the rule's DLQ topic and the rest of the batch appended,
//     keeping the batch's offsets and sequence range (the diverted records'
//     offsets are gaps; broker/enforce_rules_kafka.go); the partition is
//     acknowledged. Not in a transactional batch: that is refused.
//   - A schema refusal (v8+) carries KIP-467 ErrorRecords, one per bad
//     record (batch index, the same reason as the Connect refusal, cut to
//     about 1 KiB), and an ErrorMessage naming the first three.
//   - Idempotent producers: a retry of one of a producer's last five
//     batches on the partition is answered with the original offsets and
//     not appended again.
//   - Two stages: the batches are checked and queued in arrival order
//     (stage 1), and the response waits for durability concurrently
//     (stage 2), so pipelined requests share one group commit.
//
// Transactional batches are checked against the transaction coordinator
// by the broker (Broker.ProduceBatches; on a cluster's shared partitions,
// by the shared log's commit against the coordinator's gate). Not
// supported: topic ids (v13).

import (
	"context"
	"errors"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/reqid"
)

func init() { register(kmsg.Produce, 3, 11, handleProduce) }

// zstdCodec is compression codec 4 in a batch's attributes (byte 22, bits
// 0-2); Produce v7 is the first version that may carry it.
const zstdCodec = 4

// produceTopic is one topic's share of a request while it is served.
type produceTopic struct {
	out      []broker.BatchOutcome // nil when the topic failed as a whole
	topicErr error
}

func handleProduce(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		t := &resp.Topics[i]
		t.Topic = rt.Topic
		t.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			p := &t.Partitions[j]
			*p = kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.BaseOffset, p.LogAppendTime, p.LogStartOffset = -1, -1, -1
		}
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.InvalidRequiredAcks.Code
			}
		}
		return resp, nil, nil
	}

	b := c.Server().Broker()
	ctx := c.Context()
	topics := make([]produceTopic, len(req.Topics))
	failed := false
	for i, rt := range req.Topics {
		batches := make([]broker.PartitionBatch, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			batches[j] = broker.PartitionBatch{Partition: rp.Partition, Raw: rp.Records}
		}
		// zstd needs Produce v7: refuse those batches here, the rest go on.
		var zstd []bool
		if req.Version < 7 {
			kept := batches[:0:0]
			for j := range batches {
				raw := batches[j].Raw
				isZstd := len(raw) > 22 && raw[22]&0x07 == zstdCodec
				zstd = append(zstd, isZstd)
				if !isZstd {
					kept = append(kept, batches[j])
				}
			}
			batches = kept
		}
		out, err := b.ProduceBatches(ctx, rt.Topic, batches)
		if err != nil {
			topics[i].topicErr = err
			failed = true
			continue
		}
		if zstd != nil {
			// Put the zstd refusals back in request order.
			all := make([]broker.BatchOutcome, 0, len(zstd))
			k := 0
			for j, z := range zstd {
				if z {
					all = append(all, broker.BatchOutcome{Partition: rt.Partitions[j].Partition, Err: errZstdTooOld})
					continue
				}
				all = append(all, out[k])
				k++
			}
			out = all
		}
		topics[i].out = out
		for j := range out {
			if out[j].Err != nil {
				failed = true
			}
		}
	}
	if req.Acks == 0 {
		if failed {
			// No response to carry the error: close, as Kafka does.
			return nil, nil, errAcks0Failed
		}
		return nil, nil, nil // the batches may still be queued: no reuse
	}
	// The queued batches alias the request's bytes until the log has
	// written them: the buffer is reused only once every one was (a wait
	// ended by the connection closing leaves it to the collector).
	reuse := c.reuseRequestBuffer()
	rq := c.request() // stage 1: the request's identity, for refusal lines
	wait := func() kmsg.Response {
		written := true
		for i := range topics {
			t := &resp.Topics[i]
			for j := range t.Partitions {
				p := &t.Partitions[j]
				var err error
				if topics[i].topicErr != nil {
					err = topics[i].topicErr
				} else {
					o := &topics[i].out[j]
					queued := o.Err == nil
					var base, start int64
					base, start, err = o.Wait(ctx)
					if err != nil && queued {
						written = false
					}
					if err == nil {
						p.BaseOffset, p.LogStartOffset, p.LogAppendTime = base, start, o.LogAppendTime
					}
				}
				if err != nil {
					fillProduceError(c, rq, req.Version, t.Topic, p, err)
				}
			}
		}
		if written {
			reuse()
		}
		return resp
	}
	return nil, wait, nil
}

var (
	errZstdTooOld  = errors.New("zstd compression needs Produce v7 or later")
	errAcks0Failed = errors.New("acks=0 produce failed for at least one partition")
)

// fillProduceError sets p's error code (and, from v8, its message and
// record errors) for err; a refusal's log line names the request rq.
func fillProduceError(c *Conn, rq reqid.Kafka, version int16, topic string, p *kmsg.ProduceResponseTopicPartition, err error) {
	p.ErrorCode = produceCode(err)
	c.srv.cfg.Broker.NoteRefusal(broker.TransportKafka, err) // counted for sluice_produce_refusals_total
	var be *broker.BatchError
	isBatch := errors.As(err, &be)
	if isBatch {
		c.Logger().LogAttrs(context.Background(), slog.LevelInfo, "Kafka produce refused", // conn_id from the logger
			slog.Int(reqid.KeyCorrelationID, int(rq.CorrelationID)), slog.String(reqid.KeyClientID, rq.ClientID),
			slog.String("topic", topic), slog.Int("partition", int(p.Partition)), slog.String("err", err.Error()))
	} else if p.ErrorCode == kerr.UnknownServerError.Code || p.ErrorCode == kerr.KafkaStorageError.Code {
		c.Logger().Error("Kafka produce failed", "topic", topic, "partition", p.Partition, "err", err)
	}
	if version < 8 {
		return
	}
	msg := broker.TruncateReason(err.Error())
	if isBatch {
		msg = err.Error() // already bounded: three records of ~1 KiB
		p.ErrorRecords = make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(be.Records))
		for i, r := range be.Records {
			er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			er.RelativeOffset = int32(r.Index)
			m := broker.TruncateReason(r.Err.Error())
			er.ErrorMessage = &m
			p.ErrorRecords[i] = er
		}
	}
	p.ErrorMessage = &msg
}

// produceCode maps a produce error to its Kafka error code.
func produceCode(err error) int16 {
	var be *broker.BatchError
	switch {
	case errors.As(err, &be):
		return kerr.InvalidRecord.Code
	case errors.Is(err, broker.ErrTopicNotFound), errors.Is(err, broker.ErrPartitionNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrCorruptBatch):
		return kerr.CorruptMessage.Code
	case errors.Is(err, broker.ErrInvalidBatch):
		return kerr.InvalidRecord.Code
	case errors.Is(err, broker.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, broker.ErrRecordListTooLarge):
		return kerr.RecordListTooLarge.Code
	case errors.Is(err, broker.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, broker.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, broker.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, errZstdTooOld):
		return kerr.UnsupportedCompressionType.Code
	case errors.Is(err, broker.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, broker.ErrClosed):
		// The topic was deleted or the broker is closing: retriable.
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}
