package broker

// Data-contract DLQ diversion on the Kafka listener's produce (DESIGN.md
// §11): a client's batch in which every refused record is refused by a rule
// whose onFailure is DLQ is appended without those records, and they are
// written to their rules' params["dlq.topic"] with the same headers as on
// Connect produce (dlqRecord).
//
// How the producer's idempotence survives: the batch is not re-encoded
// with fewer offsets. It is the client's batch with the diverted records
// cut out (log.Batch.Without): baseSequence, lastOffsetDelta and the kept
// records' offset deltas are as sent, so the batch still takes the offsets
// of all its records (the diverted ones' are gaps, as after compaction) and
// the partition's producer state advances by the whole batch, in memory and
// when rebuilt from the log after a restart. A retry of the batch is
// therefore a duplicate (answered with the original offsets, the DLQ not
// written again) and the next batch's sequence follows. A batch whose
// every record is diverted is kept as an empty batch (record count 0),
// which Kafka clients skip (KAFKA-5443) and which carries the sequence.
//
// Order: the producer state is consulted first (a duplicate or a refused
// sequence writes nothing to the DLQ), then the diverted records are
// written to the DLQ topics and made durable, then the rest of the batch
// is queued. A DLQ write that fails refuses the whole batch, so the client
// retries it: a DLQ record may then be written twice (at least once), never
// lost. The DLQ write happens before Produce answers, on the request's
// stage 1: a request with diverted records waits for the DLQ's commit.
//
// Transactional batches are refused instead: a DLQ record is written
// outside the transaction and would stay visible if it aborted, and the
// transaction could not be made to cover a topic the client never added.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/rules"
)

// dlqViolation returns the DLQ rule violation of a refused record, or nil
// when its refusal is anything else.
func dlqViolation(err error) *RuleViolation {
	var se *SchemaError
	if !errors.As(err, &se) || se.Rule == nil || se.Rule.Action != rules.ActionDLQ {
		return nil
	}
	return se.Rule
}

// divertBatch finishes a Kafka batch of topicName whose records bad
// refused (sorted by index; recs are the batch's records in order): when
// every refusal is a DLQ rule's, the diverted records are written to their
// DLQ topics and the batch to queue without them is returned, with the
// records kept. Otherwise the error refuses the batch: a *BatchError.
func (b *Broker) divertBatch(ctx context.Context, topicName string, part partLog, o *BatchOutcome, batch *log.Batch, recs []ProduceRecord, bad []*RecordError) (*log.Batch, []ProduceRecord, error) {
	refuse := func(errs []*RecordError) error {
		return &BatchError{Topic: topicName, Partition: o.Partition, Count: len(recs), Records: errs}
	}
	div, ok := divertedRecords(bad)
	if !ok {
		return nil, nil, refuse(bad)
	}
	if batch.Transactional() {
		errs := make([]*RecordError, len(div))
		for i, d := range div {
			errs[i] = &RecordError{Index: d.Index, Err: invalidf("%v (a record of a transactional batch is not diverted: its DLQ record would be written outside the transaction and stay visible if the transaction aborted)", d.Err)}
		}
		return nil, nil, refuse(errs)
	}
	if errs := b.checkDLQTopics(topicName, div); len(errs) > 0 {
		return nil, nil, refuse(errs)
	}
	drop := make([]int, len(div))
	for k, d := range div {
		drop[k] = d.Index
	}
	kept := make([]ProduceRecord, 0, len(recs)-len(drop))
	for i, j := 0, 0; i < len(recs); i++ {
		if j < len(drop) && drop[j] == i {
			j++
			continue
		}
		kept = append(kept, recs[i])
	}
	without, err := batch.Without(drop)
	if err != nil {
		return nil, nil, fmt.Errorf("produce %s/%d: %w: %w", topicName, o.Partition, ErrInvalidBatch, err)
	}
	if dup, err := part.CheckSequence(batch); dup || err != nil {
		// A retry whose records were diverted when it was first accepted,
		// or a batch EnqueueBatch will refuse: nothing goes to the DLQ.
		return without, kept, nil
	}
	// One Produce per DLQ topic, in batch order. Every group is checked
	// by its topic's validator first, so that a DLQ topic refusing its
	// records (no retry can help) refuses the batch before any is written.
	type group struct {
		topic string
		recs  []ProduceRecord
		from  []divertedRecord
	}
	var groups []*group
	for _, d := range div {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.topic == d.V.DLQTopic })
		if i < 0 {
			i = len(groups)
			groups = append(groups, &group{topic: d.V.DLQTopic})
		}
		g := groups[i]
		g.recs = append(g.recs, dlqRecord(topicName, &recs[d.Index], d.V))
		g.from = append(g.from, d)
	}
	refused := func(g *group, err error) error {
		var pe *ProduceError
		if !errors.As(err, &pe) {
			return fmt.Errorf("produce %s/%d: writing %d diverted records to DLQ topic %s: %w", topicName, o.Partition, len(g.recs), g.topic, err)
		}
		errs := make([]*RecordError, 0, len(pe.Records))
		for _, re := range pe.Records {
			d := g.from[re.Index]
			errs = append(errs, &RecordError{Index: d.Index, Err: invalidf("rule %q diverts it to DLQ topic %s, which refuses it: %v", d.V.Rule, g.topic, re.Err)})
		}
		return refuse(errs)
	}
	if b.cfg.Validator != nil {
		for _, g := range groups {
			t, err := b.lookup(g.topic)
			if err == nil {
				err = b.cfg.Validator.ValidateProduce(ctx, g.topic, t.cfg.Load(), g.recs)
			}
			if err != nil {
				return nil, nil, refused(g, err)
			}
		}
	}
	for _, g := range groups {
		if _, err := b.Produce(ctx, g.topic, g.recs); err != nil {
			return nil, nil, refused(g, err)
		}
	}
	return without, kept, nil
}
