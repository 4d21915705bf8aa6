package shared

import (
	"context"
	"fmt"
	"math"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// CheckSequence reports what the commit would make of b's
// idempotent-producer fields if it ran now (log.Partition.CheckSequence):
// duplicate when b retries one of its producer's last five committed
// batches, or the log.ErrOutOfOrderSequence or log.ErrInvalidProducerEpoch
// it would refuse b with. It reads the producer's state in PostgreSQL (one
// query; nothing for a batch without a producer id). Batches still in some
// node's buffer are not seen; the commit checks again in any case. For a
// caller with work to do once per accepted batch (the Kafka listener's
// dead-letter diversion).
func (p *Partition) CheckSequence(b *log.Batch) (duplicate bool, err error) {
	if b.ProducerID() < 0 || b.BaseSequence() < 0 {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	rows, err := p.l.pool.Query(ctx, `SELECT epoch, first_seq, last_seq FROM sharedlog_producer_batches
		WHERE topic_id = $1 AND partition = $2 AND producer_id = $3 ORDER BY seqno`, p.key.topic, p.key.part, b.ProducerID())
	if err != nil {
		return false, fmt.Errorf("%w: partition %s: producer state: %w", ErrUnavailable, p.key, err)
	}
	defer rows.Close()
	type entry struct {
		epoch       int16
		first, last int32
	}
	var es []entry
	maxEpoch := int16(math.MinInt16)
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.epoch, &e.first, &e.last); err != nil {
			return false, fmt.Errorf("%w: partition %s: producer state: %w", ErrUnavailable, p.key, err)
		}
		es = append(es, e)
		maxEpoch = max(maxEpoch, e.epoch)
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("%w: partition %s: producer state: %w", ErrUnavailable, p.key, err)
	}
	if len(es) == 0 {
		return false, nil // no state: accepted at any sequence
	}
	epoch, seq := b.ProducerEpoch(), b.BaseSequence()
	switch {
	case epoch < maxEpoch:
		return false, fmt.Errorf("shared log: partition %s: producer %d epoch %d: %w", p.key, b.ProducerID(), epoch, log.ErrInvalidProducerEpoch)
	case epoch > maxEpoch:
		if seq != 0 {
			return false, fmt.Errorf("shared log: partition %s: producer %d sequence %d: %w", p.key, b.ProducerID(), seq, log.ErrOutOfOrderSequence)
		}
		return false, nil
	}
	last := int32((int64(seq) + int64(b.Count()) - 1) % (math.MaxInt32 + 1))
	for _, e := range es {
		if e.epoch == epoch && e.first == seq && e.last == last {
			return true, nil
		}
	}
	if next := int32((int64(es[len(es)-1].last) + 1) % (math.MaxInt32 + 1)); seq != next {
		return false, fmt.Errorf("shared log: partition %s: producer %d sequence %d: %w", p.key, b.ProducerID(), seq, log.ErrOutOfOrderSequence)
	}
	return false, nil
}
