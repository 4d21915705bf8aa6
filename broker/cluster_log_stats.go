package broker

import "time"

// SharedLogStats are a cluster node's shared-log counters since it
// started: what it wrote (objects, each one PUT and one commit), what it
// retried or failed, and how its reads and high watermarks were served.
type SharedLogStats struct {
	// Objects is the objects this node committed (one sharedlog_commit
	// each); Batches, Records and Bytes what they held.
	Objects, Batches, Records, Bytes int64
	// Failed is the objects whose appends failed (PUT or commit past its
	// deadline): their producers got a retriable error.
	Failed int64
	// PutRetries and CommitRetries count attempts made again after a
	// failure; CommitReplays the commits answered with the offsets an
	// earlier attempt stored (its answer was lost, e.g. a connection cut
	// during COMMIT).
	PutRetries, CommitRetries, CommitReplays int64
	// NotifySkips counts commits that sent no notification because the
	// node's next object, already sealed, covered their partitions.
	NotifySkips int64
	// PutTime and CommitTime are the time spent in successful uploads
	// (announcement and PUT) and successful commit calls.
	PutTime, CommitTime time.Duration
	// CacheHits and CacheMisses count block reads served from the node's
	// read-through cache and from the object store; ColdReads reads of
	// merged segments, which go around the cache.
	CacheHits, CacheMisses, ColdReads int64
	// CacheBytes is what the read cache holds now (at most its size).
	CacheBytes int64
	// Notifications and Polls count the high-watermark updates learned
	// from PostgreSQL notifications and from polls.
	Notifications, Polls int64
	// Merges counts segments the node's compactor committed.
	Merges int64
}

// SharedLogStats returns the shared log's counters; false when the node
// keeps its records on local disk (no shared log).
func (b *Broker) SharedLogStats() (SharedLogStats, bool) {
	if b.shared == nil {
		return SharedLogStats{}, false
	}
	s := b.shared.log.Stats()
	return SharedLogStats{
		Objects: s.Objects, Batches: s.Batches, Records: s.Records, Bytes: s.Bytes,
		Failed:     s.Failed,
		PutRetries: s.PutRetry, CommitRetries: s.CommitRetry, CommitReplays: s.CommitReplays,
		NotifySkips: s.NotifySkips,
		PutTime:     s.PutTime, CommitTime: s.CommitTime,
		CacheHits: s.CacheHits, CacheMisses: s.CacheMisses, ColdReads: s.ColdReads,
		CacheBytes:    s.CacheBytes,
		Notifications: s.Notifications, Polls: s.Polls,
		Merges: s.Merges,
	}, true
}
