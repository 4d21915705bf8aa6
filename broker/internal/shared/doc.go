// Package shared is the partition log of a cluster node: record bytes in an
// object store shared by every node, offsets sequenced in PostgreSQL. It is
// the cluster counterpart of broker/internal/log and offers the methods the
// broker calls on a *log.Partition (EnqueueBatch, AppendBatch, Append,
// ReadBatches, Read, ReadFunc, HighWatermark, LogStartOffset, Notify,
// OffsetForTime, DeleteRecordsBefore, RunMaintenance, Close), so that any
// node can append to and read every partition.
//
// # Write path
//
// A Log is one node's: every partition it serves shares one intake buffer.
// EnqueueBatch adds a batch to the buffer; the buffer is sealed when its
// window (Config.Window, 5 ms by default) has passed since its first batch,
// or when it holds Config.MaxObjectBytes (8 MiB). A sealed buffer becomes
// one object, wal/<node>/<time-ordered id> (object.go), whose key is
// announced in sharedlog_uploads ahead (keys.go: one statement writes the
// rows of the next 16 keys, off the ack's path), built and PUT outside the
// intake lock, and then committed by one call of the PostgreSQL function
// sharedlog_commit (schema.go): it locks the touched partition rows in
// (topic id, partition) order, assigns offsets, records the batches'
// coordinates (one row per partition's run of batches in the object) and
// the object, deletes the upload row and NOTIFYs (unless the object the
// node commits next, already sealed, touches every partition this one
// does: its notification carries the later high watermarks, and each
// NOTIFY wakes every listening connection). The call gets one entry
// per run of a partition's batches that are not an idempotent producer's
// (their byte ranges and counts summed), not one per batch: its work grows
// with its entries, and the node spreads the run's offsets over its
// batches. Only then does each waiting append learn its offsets: an ack
// means the object is stored and its offsets are committed. A node commits
// its objects one at a time in seal order, so one producer's batches to
// one node keep their order within a partition. Their PUTs overlap, as
// many as keep the committer busy (a PUT's average duration over a
// commit's, at most Config.MaxInflightPuts); while the pipeline is full
// the open buffer keeps filling past its window, so under load objects
// grow rather than multiply: the commits per second stay bounded and the
// records per commit grow.
// Idempotent producers' sequences are checked in the same transaction
// (a retry gets the original's offsets; see sharedlog_commit).
//
// Failures: a PUT is retried with back-off until Config.PutTimeout, then
// the waiting appends fail with ErrUnavailable and nothing is acked. The
// commit is idempotent per object key (the upload row is its fence), so any
// failure of it, including a connection cut during COMMIT, is answered by
// calling it again until Config.CommitTimeout: a commit that had gone
// through returns the offsets it stored. Buffered and in-flight bytes are
// bounded by Config.MaxBufferedBytes; EnqueueBatch waits for room
// (back-pressure).
//
// # Read path
//
// A partition's high watermark is its committed next_offset. The node
// learns new ones from its own commits at once, from other nodes' commits
// by LISTEN sluice_sharedlog (on the node's notification hub,
// Config.Notify, one connection for all its components), and by a poll
// every Config.PollInterval and whenever the hub says notifications may
// have been missed (it reconnected). Reads
// find batch coordinates (kept in memory per partition for the recent
// tail, else queried by the index on (topic_id, partition, last_offset))
// and read byte ranges through a read-through LRU cache of object blocks
// (Config.CacheBytes); the node puts what it uploads into the cache, and
// merged segments (older data) are read around it. Each batch's baseOffset
// is written in on the way out.
//
// # Merge compactor
//
// RunMaintenance also moves a partition's batches older than
// Config.MergeAge out of intake objects into segment objects of that
// partition alone (compact.go), replacing their coordinates with one row
// per run of Config.MergeRunBytes in one transaction (sharedlog_merge,
// which refuses a plan whose rows changed meanwhile).
//
// # Retention and garbage collection
//
// RunMaintenance advances a partition's log start offset by age and size
// (sharedlog_advance_start deletes the coordinates wholly below it and
// takes their bytes off their objects' live bytes). Log.CollectGarbage
// deletes objects whose bytes are all dead after Config.GCGrace (longer
// than any read that planned against old coordinates), and orphaned
// uploads (PUT, never committed) older than Config.OrphanAge; each node
// runs it every Config.GCInterval. Log.DeleteTopic removes a topic's
// partitions.
//
// # Key compaction
//
// On a partition with cleanup.policy=compact, RunMaintenance keeps only
// the latest record of each key in the closed part (compact_keys.go), with
// the local log's semantics; its new segment objects replace the old rows
// in one transaction.
//
// Not yet: transactions (transactional batches are refused).
package shared
