package broker

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// MaxTimestampOffset returns the offset and timestamp of the first record
// holding the largest timestamp of partition p of topicName (Kafka's
// ListOffsets MAX_TIMESTAMP, -3); ok is false for an empty partition. It
// reads the whole partition: a rare admin query, not a hot path.
func (b *Broker) MaxTimestampOffset(topicName string, p int32) (offset, timestamp int64, ok bool, err error) {
	t, err := b.lookup(topicName)
	if err != nil {
		return 0, 0, false, fmt.Errorf("max timestamp: %w", err)
	}
	part, err := t.partition(p)
	if err != nil {
		return 0, 0, false, fmt.Errorf("max timestamp: %w", err)
	}
	var rb log.ReadBuffer
	for restarts := 0; ; restarts++ {
		offset, timestamp, ok = -1, 0, false
		next, hw := part.LogStartOffset(), part.HighWatermark()
		for next < hw {
			n, err := part.ReadFunc(next, 0, 1<<20, &rb, func(r *log.Record) error {
				if !ok || r.Timestamp > timestamp {
					offset, timestamp, ok = r.Offset, r.Timestamp, true
				}
				next = r.Offset + 1
				return nil
			})
			if err != nil {
				// Retention or compaction removed the segment being read:
				// start again from the new log start.
				if errors.Is(err, ErrOffsetOutOfRange) && restarts < 3 {
					break
				}
				return 0, 0, false, fmt.Errorf("max timestamp %s/%d: %w", topicName, p, err)
			}
			if n == 0 {
				next = hw
			}
		}
		if next >= hw {
			return offset, timestamp, ok, nil
		}
	}
}
