// Package log is the broker's durable, segmented, append-only log: one
// Partition per topic partition, stored as segments of Kafka record batch v2
// with sparse offset and time indexes (format.go documents every byte).
//
// # Writing
//
// Append encodes and checksums its batch on the caller's goroutine, takes
// the next offsets under a short lock, queues the batch and waits. One
// writer goroutine per partition takes everything queued, writes it with one
// pwritev and, under FsyncAlways, makes it durable (through the Journal that
// all partitions share when one is configured, else with the segment's own
// fdatasync), then publishes the new segment size and high watermark and
// wakes the callers: a group commit.
// Readers therefore never see data that is not yet durable under the
// partition's fsync policy.
//
// A Kafka producer's batch is checked by ParseBatch and stored as sent
// (append_batch.go); EnqueueBatch fixes its offsets and returns, and
// Pending.Wait waits for durability, so that a connection can queue request
// after request into one group commit. Kafka consumers read whole stored
// batches as bytes with ReadBatches (read_batches.go).
//
// # Reading
//
// Reads take no lock. The segment list is copy-on-write behind an atomic
// pointer, the active segment's readable length and index are atomics
// published after each durable write, and segment files are read with
// positional reads, so readers never stall the writer and vice versa. A
// segment retired by retention or compaction is closed only after the last
// reader that holds it lets go.
//
// # Recovery
//
// Open validates the active (last) segment from its last index entry to the
// end, keeps the longest prefix of valid batches and truncates the rest,
// logging one Warn line. Missing or inconsistent indexes are rebuilt from
// their segments. Temporary files of an interrupted index write or
// compaction are deleted; the rename that finished such work is the commit
// point.
//
// # Maintenance
//
// RunMaintenance rolls an active segment older than SegmentAge, applies
// RetentionAge and RetentionBytes to closed segments, and compacts when the
// partition is compacted and there is something new to clean. A background
// goroutine runs it every MaintenanceInterval; tests call it with the time
// they want.
//
// # Lock order
//
// Partition.maintMu (maintenance and compaction) before Partition.wmu (the
// active segment's file and the segment list) before Partition.mu (the
// append queue, offsets, failure and notification state). Readers take none
// of them.
package log
