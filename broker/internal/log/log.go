package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// ErrOffsetOutOfRange is returned (wrapped, with the valid range) by reads
// outside [LogStartOffset, HighWatermark]. The wrapper is an
// *OffsetRangeError.
var ErrOffsetOutOfRange = errors.New("offset out of range")

// ErrClosed is returned by operations on a closed partition.
var ErrClosed = errors.New("log: partition closed")

// ErrFailed is returned by every Append after a write to disk failed in a
// way that leaves the partition's state unknown (a failed fdatasync, or a
// failed write that could not be undone). The partition must be closed and
// reopened, which recovers its tail from what the disk really holds.
var ErrFailed = errors.New("log: partition failed, reopen it to recover")

// ErrNoRecords is returned by Append with an empty batch.
var ErrNoRecords = errors.New("log: append of no records")

// OffsetRangeError is the error of a read outside [Start, End], End being the
// high watermark. It matches ErrOffsetOutOfRange with errors.Is.
type OffsetRangeError struct {
	Offset, Start, End int64
}

// Error implements error.
func (e *OffsetRangeError) Error() string {
	return fmt.Sprintf("log: offset %d: %v: valid offsets are [%d, %d]", e.Offset, ErrOffsetOutOfRange, e.Start, e.End)
}

// Unwrap returns ErrOffsetOutOfRange.
func (e *OffsetRangeError) Unwrap() error { return ErrOffsetOutOfRange }

// Header is a record header.
type Header struct {
	Key   string
	Value []byte // nil is null, distinct from empty
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
	Interval time.Duration // FsyncInterval only; > 0
}

// String returns the policy in the form ParseFsyncPolicy reads.
func (p FsyncPolicy) String() string {
	switch p.Mode {
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	case FsyncInterval:
		return "interval:" + p.Interval.String()
	}
	return fmt.Sprintf("FsyncMode(%d)", int(p.Mode))
}

// ParseFsyncPolicy parses "always", "never" or "interval:<duration>" (a
// positive time.ParseDuration string such as "interval:100ms").
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch {
	case s == "always":
		return FsyncPolicy{Mode: FsyncAlways}, nil
	case s == "never":
		return FsyncPolicy{Mode: FsyncNever}, nil
	case strings.HasPrefix(s, "interval:"):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "interval:"))
		if err != nil {
			return FsyncPolicy{}, fmt.Errorf("log: fsync policy %q: %w", s, err)
		}
		if d <= 0 {
			return FsyncPolicy{}, fmt.Errorf("log: fsync policy %q: the interval must be positive", s)
		}
		return FsyncPolicy{Mode: FsyncInterval, Interval: d}, nil
	}
	return FsyncPolicy{}, fmt.Errorf("log: fsync policy %q: want always, never or interval:<duration>", s)
}

// Config configures a Partition. Zero fields take the defaults named.
type Config struct {
	SegmentBytes       int64         // segment.bytes; default 1 GiB, at most 2 GiB
	SegmentAge         time.Duration // segment.ms; default 7 days
	IndexIntervalBytes int           // bytes between index entries; default 4096
	RetentionAge       time.Duration // retention.ms; default 7 days; <0 unlimited
	RetentionBytes     int64         // retention.bytes; default <=0 unlimited
	Compact            bool          // cleanup.policy=compact: closed segments keep the last record of each key
	CompactDelete      bool          // with Compact, cleanup.policy=compact,delete: RetentionAge and RetentionBytes apply too
	DeleteRetention    time.Duration // delete.retention.ms for tombstones; default 1 day
	Fsync              FsyncPolicy
	Logger             *slog.Logger     // nil discards
	Now                func() time.Time // nil is time.Now

	// MaxRecordBytes bounds one record's key, value and headers; default 1 MiB.
	MaxRecordBytes int
	// MaxBatchBytes bounds one encoded Append; default 16 MiB.
	MaxBatchBytes int
	// MaintenanceInterval is how often the background goroutine runs
	// RunMaintenance; default 1 minute, < 0 never (tests call it).
	MaintenanceInterval time.Duration
	// FS is where files live; nil is the operating system's.
	FS vfs.FS
	// SyncGate, shared by the partitions of one disk, bounds concurrent
	// fdatasyncs; nil does not bound them. See SyncGate for why.
	SyncGate *SyncGate
	// Journal, shared by the partitions of one data directory, is their
	// durability point under FsyncAlways instead of a per-partition
	// fdatasync (see Journal); nil syncs each partition's segment.
	Journal *Journal

	// producerScanBytes overrides producerScanBytes (tests).
	producerScanBytes int64
}

// Retains says whether RetentionAge and RetentionBytes apply: under
// cleanup.policy delete or compact,delete, not compact alone.
func (c *Config) Retains() bool { return !c.Compact || c.CompactDelete }

// Defaults.
const (
	DefaultSegmentBytes        = 1 << 30
	DefaultSegmentAge          = 7 * 24 * time.Hour
	DefaultRetentionAge        = 7 * 24 * time.Hour
	DefaultDeleteRetention     = 24 * time.Hour
	DefaultMaxRecordBytes      = 1 << 20
	DefaultMaxBatchBytes       = 16 << 20
	DefaultMaintenanceInterval = time.Minute
	maxSegmentBytes            = 2 << 30 // positions are uint32; leave room for one batch past it
)

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentAge == 0 {
		c.SegmentAge = DefaultSegmentAge
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = defaultIndexBytes
	}
	if c.RetentionAge == 0 {
		c.RetentionAge = DefaultRetentionAge
	}
	if c.DeleteRetention == 0 {
		c.DeleteRetention = DefaultDeleteRetention
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaintenanceInterval == 0 {
		c.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FS == nil {
		c.FS = vfs.OS
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.SegmentBytes < 0 || c.SegmentBytes > maxSegmentBytes {
		bad("SegmentBytes %d must be in [1, %d]", c.SegmentBytes, int64(maxSegmentBytes))
	}
	if c.SegmentAge < 0 {
		bad("SegmentAge %v must be positive", c.SegmentAge)
	}
	if c.IndexIntervalBytes < 0 {
		bad("IndexIntervalBytes %d must be positive", c.IndexIntervalBytes)
	}
	if c.DeleteRetention < 0 {
		bad("DeleteRetention %v must be positive", c.DeleteRetention)
	}
	if c.MaxBatchBytes < 0 || c.MaxBatchBytes > 1<<30 {
		bad("MaxBatchBytes %d must be in [1, %d]", c.MaxBatchBytes, 1<<30)
	}
	if c.MaxRecordBytes < 0 || c.MaxRecordBytes > c.MaxBatchBytes {
		bad("MaxRecordBytes %d must be in [1, MaxBatchBytes %d]", c.MaxRecordBytes, c.MaxBatchBytes)
	}
	switch c.Fsync.Mode {
	case FsyncAlways, FsyncNever:
	case FsyncInterval:
		if c.Fsync.Interval <= 0 {
			bad("Fsync interval %v must be positive", c.Fsync.Interval)
		}
	default:
		bad("Fsync mode %d is unknown", int(c.Fsync.Mode))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("log: invalid config: %w", errors.Join(errs...))
	}
	return c, nil
}

// Partition is one partition's log. Safe for concurrent use.
type Partition struct {
	dir string
	id  partitionID // identity in the journal (journal_partition.go); zero without one
	fs  vfs.FS
	log *slog.Logger
	now func() time.Time
	cfg atomic.Pointer[Config]

	maintMu sync.Mutex // see the lock order in doc.go
	wmu     sync.Mutex
	mu      sync.Mutex

	// Under mu.
	queue      []*appendReq
	nextOffset int64 // offset the next queued record gets
	failed     error // non-nil once the partition is poisoned; wraps ErrFailed
	closed     bool
	notify     chan struct{}
	producers  map[int64]*producerState // idempotent producers (producers.go)

	// txn is the transaction state (txn.go), under its own mutex.
	txn txnState

	// Lock-free reader state.
	closedFlag atomic.Bool
	hw         atomic.Int64
	segs       atomic.Pointer[[]*segment] // oldest first; the last is active; never empty
	logStart   atomic.Int64               // DeleteRecordsBefore's start (log_start.go); raised before segments go

	// Under wmu.
	iov   [][]byte // the run being written; cleared after each write
	dirty bool     // written but not fdatasynced

	// Under maintMu.
	cleanedTo    int64 // closed segments below this base were compacted by the last pass
	tombstoneDue int64 // Unix ms when a kept tombstone expires; MaxInt64 if none

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

// Read returns records from offset on, at most maxRecords and about maxBytes
// (at least one record if any is there); a limit <= 0 is no limit. Reading
// at the high watermark returns no records and no error; outside
// [LogStartOffset, HighWatermark] it returns an *OffsetRangeError. In a
// compacted log the first record returned may have an offset above offset.
// The returned records and their byte slices belong to the caller.
func (p *Partition) Read(offset int64, maxRecords, maxBytes int) ([]Record, error) {
	st := readState{maxRecords: maxRecords, maxBytes: maxBytes}
	if err := p.read(offset, &st); err != nil {
		return nil, err
	}
	return st.out, nil
}

// ReadBuffer is the memory ReadFunc reads into, kept by the caller between
// calls so that a reader streaming a partition allocates nothing per read.
// The zero value is ready to use; it grows to the largest read (about
// maxBytes, or one batch if a batch is larger). Not safe for concurrent use.
type ReadBuffer struct {
	buf  []byte
	recs []Record
	hdrs []Header // the records' headers, keys aliasing buf
}

// Scratch hands out rb's memory, emptied, to another log's ReadFunc (the
// shared log's) that reads batches into buf and decodes them into recs;
// it gives them back with Keep, grown, so that the next read reuses them.
func (rb *ReadBuffer) Scratch() (buf []byte, recs []Record) { return rb.buf[:0], rb.recs[:0] }

// Keep stores what Scratch handed out, for the next read.
func (rb *ReadBuffer) Keep(buf []byte, recs []Record) { rb.buf, rb.recs = buf, recs }

// ReadFunc reads what Read would, but instead of returning the records it
// calls visit with each, in offset order, and returns how many it visited.
// The record, its byte slices and its header keys (strings built over rb's
// bytes without a copy) alias rb and are valid only until visit returns: a
// caller that keeps anything copies it, header keys included
// (strings.Clone). This is the read path of streaming consumers, which
// re-encode every record anyway and so need no copy of their own. An error from visit ends the read and is returned as
// is; the records visited before it count.
func (p *Partition) ReadFunc(offset int64, maxRecords, maxBytes int, rb *ReadBuffer, visit func(*Record) error) (int, error) {
	if rb == nil {
		rb = new(ReadBuffer)
	}
	st := readState{maxRecords: maxRecords, maxBytes: maxBytes, visit: visit, buf: rb}
	err := p.read(offset, &st)
	return st.visited, err
}

// read runs a Read or a ReadFunc into st.
func (p *Partition) read(offset int64, st *readState) error {
	for {
		if p.closedFlag.Load() {
			return ErrClosed
		}
		hw := p.hw.Load()
		segs := *p.segs.Load()
		if start := p.startOf(segs); offset < start || offset > hw {
			return &OffsetRangeError{Offset: offset, Start: start, End: hw}
		}
		if offset == hw {
			return nil
		}
		// Record readers are read_committed (txn.go): stop at the last
		// stable offset, skip markers and aborted transactions.
		st.txn = p.filterFor(offset, hw)
		if offset >= st.txn.stopAt {
			return nil
		}
		// The last segment whose base is <= offset holds it, or (compacted
		// away) the next record after it is further on.
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
		retired := false
		for ; i < len(segs) && !st.full(); i++ {
			s := segs[i]
			if !s.acquire() {
				retired = true
				break
			}
			err := s.read(offset, st)
			s.release()
			if ve, ok := err.(errVisit); ok {
				return ve.err
			}
			if err != nil {
				if st.count() > 0 {
					// Serve what is good; the next read, from the damaged
					// batch on, gets the error.
					return nil
				}
				return err
			}
		}
		if retired && st.count() == 0 {
			continue // retention or compaction swapped segments; look again
		}
		return nil
	}
}

// HighWatermark is the offset the next appended record gets: one past the
// last durable (per the fsync policy) record.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// Size is the bytes of segments on disk.
func (p *Partition) Size() int64 {
	var n int64
	for _, s := range *p.segs.Load() {
		n += s.size.Load()
	}
	return n
}

// Notify returns a channel closed when the high watermark next advances or the
// partition closes.
func (p *Partition) Notify() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notify
}

// OffsetForTime returns the first offset whose timestamp is >= ts (Unix ms),
// or the high watermark if none. Timestamps are the records' own, so in a log
// whose producers' clocks disagree "first" means first in offset order.
func (p *Partition) OffsetForTime(ts int64) (int64, error) {
	for {
		if p.closedFlag.Load() {
			return 0, ErrClosed
		}
		hw := p.hw.Load()
		segs := *p.segs.Load()
		start := p.startOf(segs)
		retired := false
		for _, s := range segs {
			if !s.acquire() {
				retired = true
				break
			}
			off, ok, err := s.offsetForTime(ts)
			s.release()
			if err != nil {
				return 0, err
			}
			if ok {
				return min(max(off, start), hw), nil
			}
		}
		if !retired {
			return hw, nil
		}
	}
}

// Reconfigure applies new retention, compaction, segment and size-limit
// settings; FS, Fsync, Logger, Now and MaintenanceInterval keep their values
// from Open. An invalid cfg changes nothing and is returned as an error.
func (p *Partition) Reconfigure(cfg Config) error {
	old := p.cfg.Load()
	cfg.FS, cfg.Fsync, cfg.Logger, cfg.Now, cfg.MaintenanceInterval = old.FS, old.Fsync, old.Logger, old.Now, old.MaintenanceInterval
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	p.cfg.Store(&c)
	return nil
}

// Close syncs and closes the partition, stopping its goroutines. Appends
// already queued are still committed; later calls fail with ErrClosed.
// Close is idempotent; it returns the partition's failure, if any.
func (p *Partition) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.notify)
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	p.maintMu.Lock()
	defer p.maintMu.Unlock()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.closedFlag.Store(true)
	err := p.failure()
	if err == nil {
		s := p.active()
		if err = s.f.Sync(); err != nil {
			err = fmt.Errorf("log: fdatasync %s: %w", s.path, err)
		} else if ierr := p.writeIndexFiles(s.base, *s.idx.Load(), ""); ierr != nil {
			p.log.Warn("could not write index; it will be rebuilt on open", "segment", s.path, "err", ierr)
		} else if ierr := p.fs.SyncDir(p.dir); ierr != nil {
			p.log.Warn("could not sync directory", "dir", p.dir, "err", ierr)
		}
	}
	for _, s := range *p.segs.Load() {
		s.release()
	}
	return err
}
