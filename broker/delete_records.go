package broker

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// DeleteRecordsHighWatermark, as DeleteRecords' offset, means the high
// watermark: delete every record (Kafka's -1).
const DeleteRecordsHighWatermark = -1

// DeleteRecords moves partition p of topicName's log start offset forward
// to offset (Kafka's DeleteRecords; DeleteRecordsHighWatermark is the high
// watermark): records below it are no longer readable, the segments wholly
// below it are deleted, and the new start survives a restart or a crash.
// An offset at or below the current start changes nothing. It returns the
// log start offset after the call (Kafka's low watermark).
//
// Refused: unknown topic (ErrTopicNotFound); a partition the topic does
// not have (ErrInvalidArgument); an offset below -1, past the high
// watermark, or past the last stable offset while a transaction is open
// (ErrOffsetOutOfRange, naming the allowed range).
func (b *Broker) DeleteRecords(topicName string, p int32, offset int64) (int64, error) {
	t, err := b.lookup(topicName)
	if err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	part, err := t.partition(p)
	if err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	if offset == DeleteRecordsHighWatermark {
		offset = part.HighWatermark()
	}
	start, err := part.DeleteRecordsBefore(offset)
	if errors.Is(err, log.ErrClosed) {
		// Deleted (or the broker closing) while we looked.
		return 0, fmt.Errorf("delete records %s/%d: %w", topicName, p, ErrClosed)
	}
	if err != nil {
		return 0, fmt.Errorf("delete records %s/%d: %w", topicName, p, err)
	}
	return start, nil
}
