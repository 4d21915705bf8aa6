package shared

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// request is one enqueued batch waiting for its offsets.
type request struct {
	p     *Partition
	batch *log.Batch
	kind  int16 // what it is to transactions: kindPlain, kindTxn, kindCommit, kindAbort
	done  chan struct{}
	base  int64 // set before done is closed, when err is nil
	dup   bool  // an idempotent producer's retry: base is the original's
	err   error
}

// Commit statuses of a batch (sharedlog_commit).
const (
	statusAppended    = 0
	statusDuplicate   = 1
	statusOutOfOrder  = 2
	statusStaleEpoch  = 3
	statusNoPartition = 4
	statusNotInTxn    = 5 // the transaction gate refused it (migration 6)
	statusTxnFenced   = 6 // the gate holds a newer epoch of its producer
)

// Kinds of batch, to transactions (sharedlog_commit's b_kind).
const (
	kindPlain  = 0 // not transactional
	kindTxn    = 1 // a transactional batch: opens its producer's transaction unless open
	kindCommit = 2 // a commit marker
	kindAbort  = 3 // an abort marker
)

// answer is the commit's verdict on one batch, with its partition's row
// as the commit left it (next, start, bytes; -1 when unknown: the batch
// appended nothing, or the commit was replayed) and its transaction state
// (openFirst, abortMax: -1 when none; meaningful when next is known).
type answer struct {
	base                int64
	status              int16
	next, start, bytes  int64
	openFirst, abortMax int64
}

// Pending is a batch queued by EnqueueBatch. Safe for concurrent use.
type Pending struct{ req *request }

// Duplicate reports, once Wait has returned without error, whether the
// batch was an idempotent producer's retry of a batch already committed:
// nothing new was appended and Wait gave the original's offset.
func (w *Pending) Duplicate() bool {
	select {
	case <-w.req.done:
		return w.req.dup
	default:
		return false
	}
}

// Wait blocks until the batch's object is committed (and returns the
// batch's base offset) or has failed, or ctx ends. It may be called again.
// ctx ends the wait, not the write.
func (w *Pending) Wait(ctx context.Context) (int64, error) {
	select {
	case <-w.req.done:
		return w.req.base, w.req.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// flush is one sealed buffer: one object.
type flush struct {
	key  string
	ann  *announcement // of key, started when its window opened
	reqs []*request    // arrival order until put sorts them into object order
	// parts are the partitions of reqs in (topic id, partition) order, set
	// by build (in the PUT's goroutine, off the intake lock) before built
	// is closed.
	parts   []pkey
	built   chan struct{}
	bytes   int // the batches' bytes (the buffer budget they hold)
	data    []byte
	batches []objectBatch
	putDone chan struct{}
	putErr  error
}

// intake is the node's buffer across partitions.
type intake struct {
	l     *Log
	mu    sync.Mutex
	room  *sync.Cond    // signalled when held bytes drop or the intake closes
	cur   []*request    // the open window, arrival order
	curB  int           // bytes in cur
	held  int           // bytes in cur and in sealed flushes not yet answered
	gen   uint64        // bumped at each seal; the window timer checks it
	queue []*flush      // sealed, not yet taken by the committer, in seal order
	ann   *announcement // the open window's object key, being announced
	// unanswered counts sealed flushes whose commit has not finished,
	// putting those of them whose PUT has not finished either. due is set
	// when the window ended while the pipeline was full (canSealLocked):
	// the buffer keeps filling (up to MaxObjectBytes) and is sealed when
	// a PUT or a commit finishes. Under load objects grow instead of
	// queueing, so the ack latency stays near window + PUT + commit.
	unanswered int
	putting    int
	due        bool
	// putAvg and commitAvg are moving averages of a PUT's and a commit's
	// duration (0 until the first): how many PUTs keep the committer
	// busy (putLimitLocked).
	putAvg, commitAvg time.Duration
	kick              chan struct{}
	puts              chan struct{} // semaphore of concurrent PUTs
	done              bool          // closed: no more enqueues
	idle              chan struct{} // closed by the committer when done and drained
}

func (in *intake) init(l *Log) {
	in.l = l
	in.room = sync.NewCond(&in.mu)
	in.kick = make(chan struct{}, 1)
	in.puts = make(chan struct{}, l.cfg.MaxInflightPuts)
	in.idle = make(chan struct{})
}

// enqueue adds r to the open window, waiting while the buffer is full.
func (in *intake) enqueue(r *request) error {
	n := r.batch.Len()
	in.mu.Lock()
	defer in.mu.Unlock()
	for !in.done && in.held > 0 && in.held+n > in.l.cfg.MaxBufferedBytes {
		in.room.Wait()
	}
	if in.done {
		return ErrClosed
	}
	in.cur = append(in.cur, r)
	in.curB += n
	in.held += n
	if len(in.cur) == 1 {
		// The object's upload row: usually a key announced ahead (keys.go),
		// else written while the window fills, off the path from seal to ack.
		in.ann = in.l.announce()
		gen := in.gen
		time.AfterFunc(in.l.cfg.Window, func() {
			in.mu.Lock()
			defer in.mu.Unlock()
			if in.gen != gen {
				return
			}
			if !in.canSealLocked() {
				in.due = true
				return
			}
			in.sealLocked()
		})
	}
	if in.curB >= in.l.cfg.MaxObjectBytes {
		in.sealLocked()
	}
	return nil
}

// sealLocked turns the open window into a flush, starts its PUT (which
// builds the object, outside the lock) and hands it to the committer.
func (in *intake) sealLocked() {
	in.gen++
	in.due = false
	if len(in.cur) == 0 {
		return
	}
	in.unanswered++
	in.putting++
	f := &flush{key: in.ann.key, ann: in.ann, reqs: in.cur, bytes: in.curB, putDone: make(chan struct{}), built: make(chan struct{})}
	in.cur, in.curB, in.ann = nil, 0, nil
	in.queue = append(in.queue, f)
	go in.l.put(f)
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// close seals the open window, refuses further enqueues and waits until
// the committer has answered everything sealed.
func (in *intake) close() {
	in.mu.Lock()
	in.done = true
	in.sealLocked()
	in.room.Broadcast()
	in.mu.Unlock()
	select {
	case in.kick <- struct{}{}:
	default:
	}
	<-in.idle
}

// next returns the oldest sealed flush, waiting for one; nil once closed
// and drained.
func (in *intake) next() *flush {
	for {
		in.mu.Lock()
		if len(in.queue) > 0 {
			f := in.queue[0]
			in.queue = in.queue[1:]
			in.mu.Unlock()
			return f
		}
		done := in.done
		in.mu.Unlock()
		if done {
			return nil
		}
		<-in.kick
	}
}

// canSealLocked reports whether the pipeline takes another object: fewer
// PUTs running than putLimitLocked, and at most one object stored and
// waiting for the committer besides the one it commits. When commits or
// PUTs are the bottleneck, the open buffer keeps filling instead: objects
// grow with the load rather than queue, one PUT and one commit each.
func (in *intake) canSealLocked() bool {
	return in.putting < in.putLimitLocked() && in.unanswered-in.putting < 2
}

// putLimitLocked is how many PUTs may overlap: as many as keep the
// committer busy, the PUT's duration over the commit's (rounded up; 1
// when a PUT takes no longer than a commit, as with a local directory),
// at most MaxInflightPuts (all of them until both were measured). More
// would only split the load into more, smaller objects, each costing a
// PUT and a commit, without committing any sooner: the committer takes
// them one at a time. An object store's PUT latency (S3: tens of
// milliseconds against a commit's few) gets its overlap.
func (in *intake) putLimitLocked() int {
	limit := in.l.cfg.MaxInflightPuts
	if in.putAvg > 0 && in.commitAvg > 0 {
		limit = min(limit, max(1, int((in.putAvg+in.commitAvg-1)/in.commitAvg)))
	}
	return limit
}

// average folds sample d into the moving average *avg (weight 1/8).
func average(avg *time.Duration, d time.Duration) {
	if *avg == 0 {
		*avg = d
		return
	}
	*avg += (d - *avg) / 8
}

// putDone notes that a flush's PUT has finished (or failed) after took
// (0: not measured).
func (in *intake) putDone(took time.Duration) {
	in.mu.Lock()
	in.putting--
	if took > 0 {
		average(&in.putAvg, took)
	}
	if in.due && in.canSealLocked() {
		in.sealLocked()
	}
	in.mu.Unlock()
}

// release gives back a flush's bytes.
func (in *intake) release(f *flush) {
	in.mu.Lock()
	in.held -= f.bytes
	in.unanswered--
	if in.due && in.canSealLocked() {
		in.sealLocked()
	}
	in.room.Broadcast()
	in.mu.Unlock()
}

// backoff sleeps before attempt (0-based) unless ctx ends first.
func backoff(ctx context.Context, attempt int) error {
	return sleep(ctx, min(20*time.Millisecond<<min(attempt, 6), time.Second))
}

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// announcement is the upload row of an object key: taken from the keys
// announced ahead (keys.go), or written in the background when the key's
// window opens.
type announcement struct {
	key  string
	done chan struct{}
	err  error
}

// announced is the done channel of an announcement made ahead (keys.go).
var announced = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// announce returns a key for a new object whose row in sharedlog_uploads
// is written: one of the pool's (keys.go), or a new one whose row is being
// written, with the pool's next keys in the same statement unless a
// refill is running already.
func (l *Log) announce() *announcement {
	key, ok, refill := l.takeKey()
	if ok {
		return &announcement{key: key, done: announced}
	}
	a := &announcement{key: l.newObjectKey(), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.err = l.announceKeys(a.key, refill)
	}()
	return a
}

// build sorts f's batches into sections in (topic id, partition) order,
// arrival order within one, and copies them into the object's bytes.
func (f *flush) build() {
	slices.SortStableFunc(f.reqs, func(a, b *request) int {
		if c := cmp.Compare(a.p.key.topic, b.p.key.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.p.key.part, b.p.key.part)
	})
	for _, r := range f.reqs {
		if n := len(f.parts); n == 0 || f.parts[n-1] != r.p.key {
			f.parts = append(f.parts, r.p.key)
		}
	}
	close(f.built)
	// Room for the footer too (a batch's entry, and per batch at most
	// one section header): appending it must not copy the object.
	footer := 0
	for _, r := range f.reqs {
		footer += footerBatch + footerSection + len(r.p.key.topic)
	}
	w := newObjectWriter(f.bytes + footer)
	w.batches = make([]objectBatch, 0, len(f.reqs))
	for _, r := range f.reqs {
		w.add(r.p.key.topic, r.p.key.part, r.batch, r.kind)
		r.batch.Release() // copied into the object: its bytes serve the next encoding
		r.batch = nil
	}
	f.data = w.finish()
	f.batches = w.batches
}

// put builds f's object, makes sure its key is announced in
// sharedlog_uploads (the announcement started when its window opened;
// it is retried here when it failed), then PUTs it, retrying until
// PutTimeout.
func (l *Log) put(f *flush) {
	defer close(f.putDone)
	f.build()
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.PutTimeout)
	defer cancel()
	t0 := time.Now()
	// The announcement started with the window; when it failed, or has
	// not answered within PutTimeout, the row is written here, retried.
	var err error
	select {
	case <-f.ann.done:
		err = f.ann.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		err = fmt.Errorf("announce upload %s: %w", f.key, err)
	}
	for attempt := 0; err != nil; attempt++ {
		l.stats.PutRetry.Add(1)
		if berr := backoff(ctx, attempt); berr != nil {
			break
		}
		if _, err = l.pool.Exec(ctx, `INSERT INTO sharedlog_uploads (key, node) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, f.key, l.cfg.Node); err != nil {
			err = fmt.Errorf("announce upload %s: %w", f.key, err)
		}
	}
	l.in.puts <- struct{}{}
	defer func() { <-l.in.puts }()
	var took time.Duration
	t1 := time.Now()
	if err == nil {
		for attempt := 0; ; attempt++ {
			if attempt > 0 {
				l.stats.PutRetry.Add(1)
				if berr := backoff(ctx, attempt-1); berr != nil {
					break
				}
			}
			if err = l.objs.Put(ctx, f.key, f.data); err == nil {
				break
			}
			err = fmt.Errorf("put %s (%d bytes): %w", f.key, len(f.data), err)
		}
	}
	f.putErr = err
	if err == nil {
		took = time.Since(t1)
		l.stats.PutNanos.Add(int64(time.Since(t0)))
		if l.cfg.ObservePut != nil {
			l.cfg.ObservePut(took)
		}
	}
	l.in.putDone(took)
}

// commitLoop commits sealed flushes one at a time in seal order.
func (l *Log) commitLoop() {
	defer l.wg.Done()
	defer close(l.in.idle)
	// skipped is whether the last commit left its NOTIFY to the next one:
	// never two in a row, so that under sustained load other nodes still
	// hear of every other commit instead of waiting for their poll.
	skipped := false
	for {
		f := l.in.next()
		if f == nil {
			return
		}
		<-f.putDone
		var answers []answer
		err := f.putErr
		if err == nil {
			if l.testBeforeCommit != nil {
				l.testBeforeCommit()
			}
			notify := skipped || !l.in.coveredByNext(f)
			answers, err = l.commit(f, notify)
			skipped = err == nil && !notify
		}
		if err != nil {
			l.stats.Failed.Add(1)
			l.log.Warn("shared log: object not committed; its appends fail", "key", f.key, "batches", len(f.reqs), "err", err)
			if !errors.Is(err, ErrUnavailable) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			for _, r := range f.reqs {
				r.err = err
				close(r.done)
			}
			l.in.release(f)
			continue
		}
		if l.testAfterCommit != nil {
			l.testAfterCommit()
		}
		l.applyCommit(f, answers)
		l.in.release(f)
	}
}

// applyCommit publishes a committed flush: coordinates and high
// watermarks first, then the answers, so that a client acked by this node
// reads its records here at once.
func (l *Log) applyCommit(f *flush, answers []answer) {
	var records, batches int64
	for i := 0; i < len(f.reqs); {
		p := f.reqs[i].p
		j := i
		cs := make([]coord, 0, 4)
		for ; j < len(f.reqs) && f.reqs[j].p == p; j++ {
			if answers[j].status != statusAppended {
				continue
			}
			b := f.batches[j]
			base := answers[j].base
			cs = append(cs, coord{base: base, last: base + int64(b.Count) - 1, key: f.key, objSize: int64(len(f.data)),
				off: b.Off, len: b.Len, maxTs: b.MaxTimestamp})
			records += int64(b.Count)
			batches++
		}
		if len(cs) > 0 {
			p.learnCoords(cs)
			// The row as this commit left it; a replayed commit does not
			// know it (the next poll reads the size).
			a := answers[j-1]
			for k := i; k < j; k++ {
				if answers[k].next >= 0 {
					a = answers[k]
					break
				}
			}
			if a.next >= 0 {
				p.advanceTxn(a.next, a.openFirst, a.abortMax) // before the high watermark
				p.advance(a.next, a.start, a.bytes)
			} else if err := p.refresh(context.Background()); err != nil {
				// A replayed commit answers no row, and the high watermark
				// must come with the transaction state of the same commit:
				// the row is read; failing that, the next poll reads it.
				l.log.Warn("shared log: partition not read after a replayed commit; the next poll reads it", "partition", p.key, "err", err)
			}
		}
		i = j
	}
	if batches > 0 {
		l.cache.putObject(f.key, f.data)
	}
	l.stats.Objects.Add(1)
	l.stats.Batches.Add(batches)
	l.stats.Records.Add(records)
	l.stats.Bytes.Add(int64(len(f.data)))
	for i, r := range f.reqs {
		switch a := answers[i]; a.status {
		case statusAppended:
			r.base = a.base
		case statusDuplicate:
			r.base, r.dup = a.base, true
		case statusNoPartition:
			r.err = fmt.Errorf("shared log: partition %s: %w", r.p.key, ErrPartitionDeleted)
		case statusNotInTxn:
			r.err = fmt.Errorf("shared log: partition %s: producer %d epoch %d: %w", r.p.key, f.batches[i].ProducerID, f.batches[i].ProducerEpoch, gateRefusal(r.kind))
		case statusTxnFenced:
			r.err = fmt.Errorf("shared log: partition %s: producer %d epoch %d: %w (a newer epoch of its transactional id exists)", r.p.key, f.batches[i].ProducerID, f.batches[i].ProducerEpoch, log.ErrInvalidProducerEpoch)
		case statusStaleEpoch:
			r.err = fmt.Errorf("shared log: partition %s: producer %d epoch %d: %w", r.p.key, f.batches[i].ProducerID, f.batches[i].ProducerEpoch, log.ErrInvalidProducerEpoch)
		default:
			r.err = fmt.Errorf("shared log: partition %s: producer %d sequence %d: %w", r.p.key, f.batches[i].ProducerID, f.batches[i].BaseSequence, log.ErrOutOfOrderSequence)
		}
		close(r.done)
	}
}

// coveredByNext reports whether the flush sealed after f (the committer
// takes it next) holds batches of every partition f touches: its commit's
// notification then carries those partitions' later high watermarks, so
// f's commit need not send one. Each NOTIFY wakes every listening
// connection of the database, so under load this saves wake-ups (the
// committer never skips two in a row, see commitLoop).
// Should that commit append nothing to one of them (its batches refused,
// or the commit failed), other nodes learn f's high watermark from their
// poll (Config.PollInterval) instead.
func (in *intake) coveredByNext(f *flush) bool {
	in.mu.Lock()
	var next *flush
	if len(in.queue) > 0 {
		next = in.queue[0]
	}
	in.mu.Unlock()
	if next == nil {
		return false
	}
	<-next.built // soon: sorting is its PUT goroutine's first step
	// Both sorted: every partition of f must appear in next.
	j := 0
	for _, k := range f.parts {
		for j < len(next.parts) && pkeyLess(next.parts[j], k) {
			j++
		}
		if j == len(next.parts) || next.parts[j] != k {
			return false
		}
		j++
	}
	return true
}

// pkeyLess orders partitions by topic id, then partition (object order).
func pkeyLess(a, b pkey) bool {
	if a.topic != b.topic {
		return a.topic < b.topic
	}
	return a.part < b.part
}

// commit calls sharedlog_commit for f until it answers or CommitTimeout
// passes. The function is idempotent per key, so every failure is retried
// (a connection cut during COMMIT included: the retry returns the offsets
// the first attempt stored), except its refusals. It passes the function
// one entry per run of batches (commitRuns), and answers per batch. The
// commit NOTIFYs the new high watermarks when notify is set.
func (l *Log) commit(f *flush, notify bool) ([]answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CommitTimeout)
	defer cancel()
	runs := commitRuns(f.batches)
	n := len(runs)
	topics, parts := make([]string, n), make([]int32, n)
	offs, lens, counts, maxts := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	pids, epochs, seqs, kinds := make([]int64, n), make([]int16, n), make([]int32, n), make([]int16, n)
	for i, r := range runs {
		b := f.batches[r.first]
		topics[i], parts[i], offs[i], kinds[i] = b.Topic, b.Partition, b.Off, b.Kind
		pids[i], epochs[i], seqs[i] = b.ProducerID, b.ProducerEpoch, b.BaseSequence
		maxts[i] = b.MaxTimestamp
		for _, x := range f.batches[r.first : r.first+r.n] {
			lens[i] += x.Len
			counts[i] += int64(x.Count)
			maxts[i] = max(maxts[i], x.MaxTimestamp)
		}
	}
	args := commitArgs{topics, parts, offs, lens, counts, maxts, pids, epochs, seqs, kinds}
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			l.stats.CommitRetry.Add(1)
			if err := backoff(ctx, attempt-1); err != nil {
				return nil, fmt.Errorf("%w: commit of %s: %w after %v: %w", ErrUnavailable, f.key, ErrOutcomeUnknown, l.cfg.CommitTimeout, last)
			}
		}
		t0 := time.Now()
		answers, err := l.commitOnce(ctx, f.key, int64(len(f.data)), args, notify)
		if err == nil {
			if len(answers) != n {
				return nil, fmt.Errorf("commit of %s: %d answers for %d entries", f.key, len(answers), n)
			}
			took := time.Since(t0)
			l.stats.Commits.Add(1)
			if !notify {
				l.stats.NotifySkips.Add(1)
			}
			l.stats.CommitNanos.Add(int64(took))
			if l.cfg.ObserveCommit != nil {
				l.cfg.ObserveCommit(took)
			}
			l.in.mu.Lock()
			average(&l.in.commitAvg, took)
			l.in.mu.Unlock()
			return perBatch(f.batches, runs, answers), nil
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "P0002" || pe.Code == "P0001" || pe.Code[:2] == "22" || pe.Code[:2] == "42") {
			// Refused: the function ran and rolled back.
			return nil, fmt.Errorf("%w: commit of %s: %w", ErrUnavailable, f.key, err)
		}
		last = err
		l.log.Warn("shared log: commit failed; retrying (it is idempotent)", "key", f.key, "attempt", attempt+1, "err", err)
	}
}

// commitRun is one entry of a sharedlog_commit call: batches first to
// first+n-1 of an object.
type commitRun struct{ first, n int }

// commitRuns groups an object's batches (in object order) into
// sharedlog_commit's entries: consecutive batches of one partition, lying
// back to back, none of them an idempotent producer's, make one entry
// (their byte ranges, record counts and timestamps summed up as one
// batch's); an idempotent producer's batch is an entry of its own, since
// its sequence is checked on its own. The function's work grows with its
// entries, and its coordinate rows are per run anyway: an object of many
// small requests costs it about as much as one request per partition.
func commitRuns(bs []objectBatch) []commitRun {
	runs := make([]commitRun, 0, 8)
	for i, b := range bs {
		if k := len(runs) - 1; k >= 0 && !idempotent(b) && b.Kind == kindPlain {
			r := &runs[k]
			prev := bs[r.first+r.n-1]
			if !idempotent(prev) && prev.Kind == kindPlain && prev.Topic == b.Topic && prev.Partition == b.Partition && prev.Off+prev.Len == b.Off {
				r.n++
				continue
			}
		}
		runs = append(runs, commitRun{first: i, n: 1})
	}
	return runs
}

// idempotent reports whether sharedlog_commit checks b's producer
// sequence (it does when both the producer id and the sequence are set).
func idempotent(b objectBatch) bool { return b.ProducerID >= 0 && b.BaseSequence >= 0 }

// perBatch spreads the commit's answers, one per entry, over the batches:
// an entry's batches share its status and partition row, and take
// consecutive offsets from its base in object order.
func perBatch(bs []objectBatch, runs []commitRun, answers []answer) []answer {
	if len(runs) == len(bs) {
		return answers
	}
	out := make([]answer, len(bs))
	for i, r := range runs {
		a := answers[i]
		for k := r.first; k < r.first+r.n; k++ {
			out[k] = a
			if a.status == statusAppended {
				a.base += int64(bs[k].Count)
			}
		}
	}
	return out
}

// commitArgs are sharedlog_commit's arrays, one element per entry (a run
// of batches, commitRuns).
type commitArgs struct {
	topics             []string
	parts              []int32
	offs, lens, counts []int64
	maxts, pids        []int64
	epochs             []int16
	seqs               []int32
	kinds              []int16
}

// orNone is *v, or -1 when v is NULL (no transaction open, none aborted).
func orNone(v *int64) int64 {
	if v == nil {
		return -1
	}
	return *v
}

// commitSQL is the commit call. With pgx's default statement cache (the
// metadata URL may choose another default_query_exec_mode) it is a
// prepared statement on each connection: parsed and planned once per
// connection, not at each commit. internal/pgtest's proxy recognises its
// Binds.
const commitSQL = `SELECT ord, base_offset, status, replayed, hw_after, start_after, bytes_after, open_first_after, abort_max_after
	FROM sharedlog_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// commitOnce makes one call of sharedlog_commit.
func (l *Log) commitOnce(ctx context.Context, key string, size int64, a commitArgs, notify bool) ([]answer, error) {
	rows, err := l.pool.Query(ctx, commitSQL, key, l.cfg.Node, size, a.topics, a.parts, a.offs, a.lens, a.counts, a.maxts, a.pids, a.epochs, a.seqs, a.kinds, notify)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	answers := make([]answer, len(a.topics))
	seen := 0
	for rows.Next() {
		var ord int32
		var base *int64
		var status int16
		var replayed bool
		var next, start, bytes, openFirst, abortMax *int64
		if err := rows.Scan(&ord, &base, &status, &replayed, &next, &start, &bytes, &openFirst, &abortMax); err != nil {
			return nil, err
		}
		if ord < 0 || int(ord) >= len(answers) {
			return nil, fmt.Errorf("commit of %s: answer names entry %d of %d", key, ord, len(answers))
		}
		if base == nil && (status == statusAppended || status == statusDuplicate) {
			return nil, fmt.Errorf("commit of %s: entry %d has status %d and no offset", key, ord, status)
		}
		answers[ord].status = status
		if base != nil {
			answers[ord].base = *base
		}
		answers[ord].next, answers[ord].start, answers[ord].bytes = -1, -1, -1
		if next != nil && start != nil && bytes != nil {
			answers[ord].next, answers[ord].start, answers[ord].bytes = *next, *start, *bytes
		}
		answers[ord].openFirst, answers[ord].abortMax = orNone(openFirst), orNone(abortMax)
		seen++
		if replayed && seen == 1 {
			l.stats.CommitReplays.Add(1)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return answers[:seen], nil
}
