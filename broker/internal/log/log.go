// Package log is the broker's durable, segmented, append-only log: one
// Partition per topic partition, stored as segments of Kafka record batch v2
// with sparse offset and time indexes.
package log

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

var errTODO = errors.New("log: not implemented")

// ErrOffsetOutOfRange is returned (wrapped, with the valid range) by reads
// outside [LogStartOffset, HighWatermark].
var ErrOffsetOutOfRange = errors.New("offset out of range")

// ErrClosed is returned by operations on a closed partition.
var ErrClosed = errors.New("log: partition closed")

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is a record to append, or one read back (then Offset is set).
type Record struct {
	Offset int64
	// Timestamp is Unix milliseconds; 0 on append means the clock's now.
	Timestamp int64
	// Key and Value: nil is null, distinct from empty.
	Key, Value []byte
	Headers    []Header
}

// FsyncMode says when appends reach stable storage.
type FsyncMode int

// Fsync modes.
const (
	FsyncAlways   FsyncMode = iota // fdatasync before every ack (group-committed)
	FsyncInterval                  // fdatasync every Interval in the background
	FsyncNever                     // leave it to the OS
)

// FsyncPolicy is the parsed --fsync flag.
type FsyncPolicy struct {
	Mode     FsyncMode
	Interval time.Duration
}

// ParseFsyncPolicy parses "always", "never" or "interval:<duration>".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) { return FsyncPolicy{}, errTODO }

// Config configures a Partition. Zero fields take the defaults named.
type Config struct {
	SegmentBytes       int64         // segment.bytes; default 1 GiB
	SegmentAge         time.Duration // segment.ms; default 7 days
	IndexIntervalBytes int           // bytes between index entries; default 4096
	RetentionAge       time.Duration // retention.ms; default 7 days; <0 unlimited
	RetentionBytes     int64         // retention.bytes; default <=0 unlimited
	Compact            bool          // cleanup.policy=compact
	DeleteRetention    time.Duration // delete.retention.ms for tombstones; default 1 day
	Fsync              FsyncPolicy
	Logger             *slog.Logger     // nil discards
	Now                func() time.Time // nil is time.Now
}

// Partition is one partition's log. Safe for concurrent use.
type Partition struct{}

// Open opens or creates the partition in dir, recovering its tail.
func Open(dir string, cfg Config) (*Partition, error) { return nil, errTODO }

// Append appends recs as one batch and returns the first offset. It returns
// once the batch is durable under the fsync policy; concurrent appends share
// one write and one fdatasync.
func (p *Partition) Append(ctx context.Context, recs []Record) (int64, error) { return 0, errTODO }

// Read returns records from offset on, at most maxRecords and about maxBytes
// (at least one record if any is there).
func (p *Partition) Read(offset int64, maxRecords, maxBytes int) ([]Record, error) {
	return nil, errTODO
}

// LogStartOffset is the first stored offset.
func (p *Partition) LogStartOffset() int64 { return 0 }

// HighWatermark is the offset the next appended record gets.
func (p *Partition) HighWatermark() int64 { return 0 }

// Size is the bytes of segments on disk.
func (p *Partition) Size() int64 { return 0 }

// Notify returns a channel closed when the high watermark next advances or the
// partition closes.
func (p *Partition) Notify() <-chan struct{} { return nil }

// OffsetForTime returns the first offset whose timestamp is >= ts (Unix ms),
// or the high watermark if none.
func (p *Partition) OffsetForTime(ts int64) (int64, error) { return 0, errTODO }

// Reconfigure applies new retention, compaction and segment settings.
func (p *Partition) Reconfigure(cfg Config) {}

// Close syncs and closes the partition, stopping its goroutines.
func (p *Partition) Close() error { return nil }
