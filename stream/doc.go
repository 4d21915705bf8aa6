// Package stream is typed stream processing over Sluice's typed clients: a
// topology built from generated Go types (filter, map, flatMap, branch,
// merge, groupByKey, count, aggregate, reduce, tumbling and hopping windows
// with grace, stream-table join, to a typed output topic), run with
// App.Run and scaled out as members of a consumer group.
//
//	app := stream.New(conn, "wordcount")
//	lines := stream.From(app, "lines", primitive.Null(), primitive.String())
//	words := stream.FlatMap(lines, func(_ struct{}, line string) []stream.KV[string, string] { ... })
//	counts := stream.Count(stream.GroupByKey(stream.Repartition(words, primitive.String(), primitive.String())))
//	stream.To(counts.ToStream(), "word-counts", primitive.String(), primitive.Int64())
//	err := app.Run(ctx)
//
// # Tasks and scaling
//
// Every input topic (sources, tables, and the internal repartition topics)
// has the same number of partitions N; task p owns partition p of each,
// so records with one key (partitioned by the key, as producers do) meet
// in one task. Instances of an application join the consumer group named
// by the application id with the range assignor, which gives a member the
// same partitions of every topic; a task moves when the group rebalances.
//
// # State
//
// Aggregations keep their state in a store per task: an in-memory map
// (the state must fit in memory; an embedded on-disk store would lift that
// limit and is not needed for the restore contract below) whose changes
// are written to a compacted changelog topic, <app>-<store>-changelog (the
// last change of each key at each commit), in the same transaction as the
// outputs. A task
// that starts (at Run, or when a rebalance hands it over) first fences the
// previous owner, then rebuilds its stores by reading its changelog
// partition to the end, then resumes from the group's committed offsets. A
// table read from a topic (stream-table join) is restored from that topic
// itself, up to the committed offset.
//
// A table (Count, Aggregate, Reduce) has a record cache: at each commit it
// forwards the latest value of every key changed since the previous one,
// once, instead of every change (fewer output and changelog records;
// downstream sees each key's value as of each commit). Caching(false)
// forwards every change.
//
// # Exactly once
//
// Each task commits through GroupService.ProduceAndCommit under the
// transactional id <app>-<partition>: its outputs, its changelog writes,
// its repartition writes and its input offsets (with its stream time in
// the offset metadata) are committed together or not at all, every
// CommitInterval. A commit runs while the task goes on processing into the
// next transaction; the task's next commit waits for it. A crash loses only uncommitted work, which the next
// owner redoes from the committed offsets and the restored state; a
// zombie's commit is refused because the new owner's InitProducer bumped
// the epoch. Readers of the outputs see each result once (every Connect
// reader is read_committed).
//
// # Time and windows
//
// Stream time is, per task, the largest record timestamp processed. A
// window [start, start+size) accepts records until stream time reaches its
// end plus the grace period; then its final result is emitted once and
// its state deleted. Records for windows already closed are dropped
// (counted in Stats). Within a task, the records of inputs that meet in a
// node (a join, a merge) are taken in timestamp order; such an input that
// is behind (the broker holds more) is waited for up to MaxTaskIdle, so
// that a table's updates are joined in time order.
package stream
