package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// permanentError is a failure that running again would meet again (a
// record that does not decode, a value a codec refuses): Run returns it.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Run runs the application until ctx is done, then commits what it has
// processed, leaves the group and returns nil. It first checks the
// topology and the topics (every input with the same partition count; the
// internal topics are created), and returns an error naming what is wrong.
// Then it joins the group and processes its tasks; a lost connection or a
// broker error restarts the instance's membership (the tasks restore
// their state again), while a record it cannot process (it does not
// decode) stops Run with an error naming the record, and so does a commit
// the broker refuses for what it holds (InvalidArgument: a record over
// the topic's max.message.bytes).
func (a *App) Run(ctx context.Context) error {
	if err := errors.Join(a.errs...); err != nil {
		return err
	}
	if len(a.sources) == 0 {
		return fmt.Errorf("stream %s: the topology reads no topic (use From or TableFrom)", a.id)
	}
	n, err := a.prepare(ctx)
	if err != nil {
		return err
	}
	backoff := 100 * time.Millisecond
	for {
		err := a.runMember(ctx, n)
		if ctx.Err() != nil {
			return nil
		}
		var pe *permanentError
		if errors.As(err, &pe) {
			return fmt.Errorf("stream %s: %w", a.id, pe.err)
		}
		a.opts.log.Warn("stream: instance restarting", "app", a.id, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// prepare checks the inputs' partition counts, creates the internal
// topics and builds the codecs; it returns the partition count.
func (a *App) prepare(ctx context.Context) (int32, error) {
	n := int32(-1)
	var first string
	for _, s := range a.sources {
		if s.internal {
			continue
		}
		res, err := a.conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: s.topic}))
		if err != nil {
			return 0, fmt.Errorf("stream %s: input topic %s: %w", a.id, s.topic, err)
		}
		c := int32(len(res.Msg.GetTopic().GetPartitions()))
		if n < 0 {
			n, first = c, s.topic
		} else if c != n {
			return 0, fmt.Errorf("stream %s: input topics must have the same number of partitions (tasks are per partition): %s has %d, %s has %d", a.id, first, n, s.topic, c)
		}
	}
	if n <= 0 {
		return 0, fmt.Errorf("stream %s: the topology reads only internal topics", a.id)
	}
	for _, s := range a.sources {
		if s.internal {
			if err := a.ensureTopic(ctx, s.topic, n, nil); err != nil {
				return 0, err
			}
		}
	}
	for _, st := range a.stores {
		if st.changelog != "" {
			if err := a.ensureTopic(ctx, st.changelog, n, map[string]string{"cleanup.policy": "compact"}); err != nil {
				return 0, err
			}
		}
	}
	for _, s := range a.sources {
		// Each goroutine that decodes builds its own decoder; this one
		// checks at the start that the codecs can decode the topic.
		if _, err := s.mkDecode(a.conn); err != nil {
			return 0, fmt.Errorf("stream %s: input %s: %w", a.id, s.topic, err)
		}
	}
	a.findFeeds()
	a.groupInputs()
	for _, sk := range a.sinks {
		add, err := sk.mkAdd(ctx, a.conn)
		if err != nil {
			return 0, fmt.Errorf("stream %s: output %s: %w", a.id, sk.topic, err)
		}
		sk.add = add
	}
	return n, nil
}

// ensureTopic creates an internal topic, or checks that an existing one
// has n partitions.
func (a *App) ensureTopic(ctx context.Context, name string, n int32, configs map[string]string) error {
	_, err := a.conn.Topics().CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: n, Configs: configs}))
	if err == nil {
		return nil
	}
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		return fmt.Errorf("stream %s: create internal topic %s: %w", a.id, name, err)
	}
	res, err := a.conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: name}))
	if err != nil {
		return fmt.Errorf("stream %s: internal topic %s: %w", a.id, name, err)
	}
	if c := int32(len(res.Msg.GetTopic().GetPartitions())); c != n {
		return fmt.Errorf("stream %s: internal topic %s has %d partitions, the inputs %d", a.id, name, c, n)
	}
	return nil
}

// event is what the Consume stream delivered: an assignment, records of
// one partition (decoded), or the stream's end.
type event struct {
	assignment *brokerv1.ConsumeAssignment
	records    *arrived
	err        error
}

// arrived is one response's records of a topic partition, decoded by the
// goroutine that receives the stream: decoding runs beside processing.
type arrived struct {
	k    tpKey
	hwm  int64
	recs []queued
}

// queued is a record waiting for its task: decoded, or the decode error to
// raise when its turn comes.
type queued struct {
	offset int64
	ts     int64 // the record's timestamp in ms, the order across inputs
	rec    record
	err    error
}

// decodeAll decodes the records of b with decode.
func decodeAll(ctx context.Context, decode decodeFunc, b *client.RecordBatch) []queued {
	q := make([]queued, b.Len())
	for i := range q {
		q[i].offset = b.Offset(i)
		q[i].ts = millis(b.Timestamp(i))
		q[i].rec, q[i].err = decode(ctx, b, i)
	}
	return q
}

// millis is t in Unix milliseconds, 0 for a record without a timestamp.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// runMember is one membership of the group: it returns when ctx is done
// (nil, after committing) or on an error.
func (a *App) runMember(parent context.Context, n int32) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var topics []string
	// The receiving goroutine's decoders, one per input topic.
	decoders := map[string]decodeFunc{}
	for _, s := range a.sources {
		topics = append(topics, s.topic)
		d, err := s.mkDecode(a.conn)
		if err != nil {
			return fmt.Errorf("stream %s: input %s: %w", a.id, s.topic, err)
		}
		decoders[s.topic] = d
	}
	stream, err := a.conn.OpenGroupStream(ctx, &brokerv1.ConsumeRequest{
		Group: a.id,
		Subscription: &brokerv1.Subscription{
			Topics: topics, Assignor: brokerv1.Assignor_ASSIGNOR_RANGE,
			SessionTimeout: durationpb.New(a.opts.sessionTimeout),
		},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	})
	if err != nil {
		return fmt.Errorf("join group %s: %w", a.id, err)
	}
	defer stream.Close()
	events := make(chan event, 64)
	go func() {
		for stream.Receive() {
			var ev event
			if a := stream.Assignment(); a != nil {
				ev.assignment = a
			} else {
				b := stream.Batch()
				decode := decoders[b.Topic]
				if decode == nil {
					continue // not subscribed: never owned
				}
				ev.records = &arrived{k: tpKey{b.Topic, b.Partition}, hwm: b.HighWatermark, recs: decodeAll(ctx, decode, b)}
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
		err := stream.Err()
		if err == nil {
			err = errors.New("the group's stream ended")
		}
		select {
		case events <- event{err: err}:
		case <-ctx.Done():
		}
	}()

	// A task runs only while this member owns its partition of every
	// input (cooperative rebalancing moves them one by one); records of a
	// partition owned without its task wait in pending.
	tasks := map[int32]*task{}
	owned := map[tpKey]bool{}
	pending := map[tpKey]*input{}
	// Commits use their own context: a commit under way when parent is
	// done is finished, not cut in half.
	cctx := context.WithoutCancel(parent)
	// retry: fenced tasks, and when to check that the group moved them.
	retry := map[int32]time.Time{}
	var park func(t *task)
	// fenced drops task p, which another instance took over.
	fenced := func(p int32, t *task) {
		// The broker moved the task before this member read the
		// revocation (it lets go once the assignment is sent): the new
		// owner fenced it. Its work since the last commit is the new
		// owner's now.
		a.opts.log.Info("stream: task taken over by another instance", "app", a.id, "task", p)
		park(t)
		delete(tasks, p)
		retry[p] = time.Now().Add(time.Second)
	}
	// settle handles the outcome of a task's commit.
	settle := func(p int32, t *task, err error) error {
		if err != nil && errors.Is(err, client.ErrFenced) {
			fenced(p, t)
			return nil
		}
		if connect.CodeOf(err) == connect.CodeInvalidArgument {
			// Refused for what it holds (a record over the topic's
			// max.message.bytes, a partition without transactions):
			// processing again would make the same transaction again.
			return &permanentError{fmt.Errorf("commit of task %d: %w", p, err)}
		}
		return err
	}
	// commitAll commits every task and waits: their transactions run
	// concurrently.
	commitAll := func() error {
		for p, t := range tasks {
			if err := settle(p, t, t.beginCommit(cctx)); err != nil {
				return err
			}
		}
		for p, t := range tasks {
			if err := settle(p, t, t.wait()); err != nil {
				return err
			}
		}
		return nil
	}
	// commitDue starts the commit of every task that began its last one
	// CommitInterval ago and whose previous one is done, without waiting:
	// processing goes on while it runs.
	commitDue := func() error {
		for p, t := range tasks {
			if time.Since(t.begun) < a.opts.commitInterval {
				continue
			}
			if t.inflight != nil {
				select {
				case <-t.inflight.done:
				default:
					continue // still under way: commit at a later tick
				}
			}
			if err := settle(p, t, t.beginCommit(cctx)); err != nil {
				return err
			}
		}
		return nil
	}
	defer func() {
		// Nothing is left running: a commit under way is finished.
		for _, t := range tasks {
			_ = t.wait()
		}
	}()
	// park moves a removed task's unprocessed records of partitions still
	// owned back to pending.
	park = func(t *task) {
		for _, in := range t.order {
			k := tpKey{in.src.topic, t.id}
			if owned[k] && len(in.queue) > 0 {
				pending[k] = &input{src: in.src, queue: in.queue, hwm: in.hwm}
			}
		}
	}
	complete := func(p int32) bool {
		for _, s := range a.sources {
			if !owned[tpKey{s.topic, p}] {
				return false
			}
		}
		return true
	}
	// start takes tasks ps over, with the records that waited for them.
	// Their transactional ids, offsets and stores are set up concurrently:
	// a member that gets many partitions at once is not as slow to start
	// as their sum.
	start := func(ps []int32) error {
		news := make([]*task, len(ps))
		errs := make([]error, len(ps))
		var wg sync.WaitGroup
		for i, p := range ps {
			delete(retry, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				news[i], errs[i] = a.newTask(ctx, p)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for i, p := range ps {
			t := news[i]
			for _, in := range t.order {
				k := tpKey{in.src.topic, p}
				if pd := pending[k]; pd != nil {
					in.queue = append(pd.queue, in.queue...)
					in.hwm = max(in.hwm, pd.hwm)
					delete(pending, k)
				}
			}
			tasks[p] = t
		}
		for _, p := range ps {
			if err := tasks[p].drain(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	tick := time.NewTicker(min(a.opts.commitInterval, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-parent.Done():
			return commitAll()
		case <-tick.C:
			for p, at := range retry {
				if time.Now().Before(at) {
					continue
				}
				delete(retry, p)
				if tasks[p] == nil && complete(p) {
					// Still assigned here a second later: this member's
					// view is stale, and the records it processed after
					// the last commit are gone from its stream. Rejoin.
					return fmt.Errorf("task %d was fenced by another instance but is still assigned here", p)
				}
			}
			for _, t := range tasks {
				if err := t.drain(ctx); err != nil {
					return err
				}
			}
			if err := commitDue(); err != nil {
				return err
			}
		case ev := <-events:
			if ev.err != nil {
				if err := commitAll(); err != nil {
					a.opts.log.Warn("stream: commit after the group's stream broke", "app", a.id, "err", err)
				}
				return fmt.Errorf("group %s: %w", a.id, ev.err)
			}
			switch {
			case ev.assignment != nil:
				if err := commitAll(); err != nil {
					return err
				}
				clear(owned)
				for _, tp := range ev.assignment.GetPartitions() {
					for _, p := range tp.GetPartitions() {
						owned[tpKey{tp.GetTopic(), p}] = true
					}
				}
				for k := range pending {
					if !owned[k] {
						delete(pending, k)
					}
				}
				for p, t := range tasks {
					if !complete(p) {
						park(t)
						delete(tasks, p)
					}
				}
				var ps []int32
				for k := range owned {
					if p := k.partition; tasks[p] == nil && complete(p) && !slices.Contains(ps, p) {
						ps = append(ps, p)
					}
				}
				if len(ps) > 0 {
					slices.Sort(ps)
					if err := start(ps); err != nil {
						return err
					}
				}
			case ev.records != nil:
				r := ev.records
				k := r.k
				if !owned[k] {
					continue
				}
				t := tasks[k.partition]
				var in *input
				if t != nil {
					in = t.inputs[k.topic]
				}
				if in == nil {
					in = pending[k]
					if in == nil {
						in = &input{}
						pending[k] = in
					}
				}
				if len(in.queue) == 0 {
					in.queue = r.recs // the usual case: no copy
				} else {
					in.queue = append(in.queue, r.recs...)
				}
				in.hwm = max(in.hwm, r.hwm)
				if t != nil {
					if err := t.drain(ctx); err != nil {
						return err
					}
				}
			}
		}
	}
}

// tpKey is a topic partition.
type tpKey struct {
	topic     string
	partition int32
}

// task is the processing of partition id of every input.
type task struct {
	app     *App
	id      int32
	prod    *client.TxnProducer
	tx      *client.Txn
	stores  map[*storeDef]*kvStore
	inputs  map[string]*input
	order   []*input
	dirty   bool
	blocked map[int]time.Time // per input group: since when an input that is behind has been waited for
	// spare is the Txn the next transaction is built in while tx is
	// being committed; inflight is that commit.
	spare    *client.Txn
	inflight *commitRun
	begun    time.Time // when the last commit began
	// cached counts the entries in the stores' record caches: each will
	// add records to the transaction at the commit.
	cached int
	// keyBuf and winBuf are reused to encode store keys.
	keyBuf, winBuf []byte
}

// input is one input partition of a task.
type input struct {
	src       *source
	queue     []queued
	pos       int64 // the next offset to process
	committed int64
	hwm       int64 // what the broker holds, as last heard
	// streamTime is the largest timestamp processed from this input.
	streamTime int64
}

// noTime is the stream time of an input that has seen no record.
const noTime = -1 << 62

// streamTimeKey prefixes the stream time in the committed offsets'
// metadata.
const streamTimeKey = "stream-time="

// newTask takes over partition p: it fences the previous owner (a newer
// epoch of the task's transactional id), reads the committed offsets
// (after the fencing, so they include everything the previous owner
// committed), and restores the stores.
func (a *App) newTask(ctx context.Context, p int32) (*task, error) {
	prod, err := client.InitTxnProducer(ctx, a.conn, fmt.Sprintf("%s-%d", a.id, p), 0)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", p, err)
	}
	t := &task{app: a, id: p, prod: prod, tx: &client.Txn{Group: a.id}, spare: &client.Txn{Group: a.id}, begun: time.Now(), stores: map[*storeDef]*kvStore{}, inputs: map[string]*input{}, blocked: map[int]time.Time{}}
	req := &brokerv1.FetchOffsetsRequest{Group: a.id}
	for _, s := range a.sources {
		in := &input{src: s, streamTime: noTime}
		t.inputs[s.topic] = in
		t.order = append(t.order, in)
		req.Partitions = append(req.Partitions, &brokerv1.TopicPartitions{Topic: s.topic, Partitions: []int32{p}})
	}
	res, err := a.conn.Groups().FetchOffsets(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("task %d: committed offsets: %w", p, err)
	}
	for _, o := range res.Msg.GetOffsets() {
		in := t.inputs[o.GetTopic()]
		if in == nil || o.GetPartition() != p {
			continue
		}
		in.pos, in.committed = o.GetOffset(), o.GetOffset()
		if v, ok := strings.CutPrefix(o.GetMetadata(), streamTimeKey); ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				in.streamTime = ms
			}
		}
	}
	for _, in := range t.order {
		lo, err := a.conn.Broker().ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: in.src.topic, Partitions: []int32{p}, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}}))
		if err != nil {
			return nil, fmt.Errorf("task %d: %s: %w", p, in.src.topic, err)
		}
		for _, o := range lo.Msg.GetOffsets() {
			in.hwm = o.GetOffset()
		}
	}
	for _, st := range a.stores {
		s := &kvStore{def: st, m: map[string]*entry{}, minStart: noWindow}
		upTo := int64(0)
		if st.table != nil {
			upTo = t.inputs[st.table.topic].committed
		}
		if err := s.restore(ctx, a, p, upTo); err != nil {
			return nil, fmt.Errorf("task %d: %w", p, err)
		}
		a.stats.Restored.Add(int64(len(s.m)))
		t.stores[st] = s
	}
	return t, nil
}

// drain processes the queued records in timestamp order across inputs,
// waiting (up to MaxTaskIdle) for an input that is behind.
func (t *task) drain(ctx context.Context) error {
	for {
		progress := false
		for g := range t.app.groups {
			ok, err := t.step(ctx, g)
			if err != nil {
				return err
			}
			progress = progress || ok
		}
		if !progress {
			return nil
		}
	}
}

// step processes the next record of input group g (inputs whose records
// meet in a node: a join, a merge), the earliest of the group, unless an
// input of the group that is behind is still being waited for. It
// reports whether it processed one.
func (t *task) step(ctx context.Context, g int) (bool, error) {
	a := t.app
	var best *input
	waiting, members := false, 0
	for _, in := range t.order {
		if in.src.group != g {
			continue
		}
		members++
		if len(in.queue) == 0 {
			if in.pos < in.hwm {
				waiting = true
			}
			continue
		}
		if best == nil || in.queue[0].ts < best.queue[0].ts {
			best = in
		}
	}
	if best == nil {
		return false, nil
	}
	if waiting && members > 1 {
		if t.blocked[g].IsZero() {
			t.blocked[g] = time.Now()
		}
		if time.Since(t.blocked[g]) < a.opts.maxTaskIdle {
			return false, nil
		}
	} else {
		delete(t.blocked, g)
	}
	r := best.queue[0]
	best.queue[0] = queued{}
	best.queue = best.queue[1:]
	if r.offset < best.pos {
		return true, nil // processed before this task was taken over
	}
	rec, err := r.rec, r.err
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, &permanentError{fmt.Errorf("%s/%d at offset %d: %w", best.src.topic, t.id, r.offset, err)}
	}
	best.streamTime = max(best.streamTime, rec.ts)
	if err := best.src.n.process(t, rec); err != nil {
		return false, &permanentError{fmt.Errorf("%s/%d at offset %d: %w", best.src.topic, t.id, r.offset, err)}
	}
	best.pos = r.offset + 1
	t.dirty = true
	for _, wn := range a.closers {
		if err := wn.close(t); err != nil {
			return false, &permanentError{err}
		}
	}
	a.stats.Processed.Add(1)
	if t.tx.Len()+t.cached >= a.opts.maxTxnRecords {
		if err := t.beginCommit(context.WithoutCancel(ctx)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// commitRun is a task's commit under way: done is closed when err is set.
type commitRun struct {
	done chan struct{}
	err  error
	tx   *client.Txn
	pos  []int64 // each input's position (task.order) the commit stores
}

// beginCommit starts committing the task's outputs, changelog writes and
// input positions (each with its input's stream time) as one transaction,
// after waiting for the previous commit (a task's transactions are
// sequential); processing goes on into another Txn while it runs. The
// record caches and the changelog changes are flushed into the
// transaction first. wait returns the outcome.
func (t *task) beginCommit(ctx context.Context) error {
	if err := t.wait(); err != nil {
		return err
	}
	if !t.dirty {
		return nil
	}
	// The record caches first, in the order the stores were built (a
	// store's updates may feed one built after it), then the changelogs.
	for _, def := range t.app.stores {
		if err := t.stores[def].flushCache(t); err != nil {
			return &permanentError{fmt.Errorf("task %d: %w", t.id, err)}
		}
	}
	t.cached = 0
	for _, s := range t.stores {
		if err := s.flush(t); err != nil {
			return &permanentError{fmt.Errorf("task %d: %w", t.id, err)}
		}
	}
	c := &commitRun{done: make(chan struct{}), tx: t.tx, pos: make([]int64, len(t.order))}
	for i, in := range t.order {
		t.tx.CommitOffsetMetadata(in.src.topic, t.id, in.pos, streamTimeKey+strconv.FormatInt(in.streamTime, 10))
		c.pos[i] = in.pos
	}
	t.tx, t.spare = t.spare, nil
	t.dirty = false
	t.begun = time.Now()
	t.inflight = c
	go func() {
		defer close(c.done)
		if _, err := t.prod.Commit(ctx, c.tx); err != nil {
			c.err = fmt.Errorf("task %d: %w", t.id, err)
		}
	}()
	return nil
}

// wait waits for the commit under way, if any, and returns its error.
func (t *task) wait() error {
	c := t.inflight
	if c == nil {
		return nil
	}
	<-c.done
	t.inflight = nil
	c.tx.Reset()
	t.spare = c.tx
	if c.err != nil {
		return c.err
	}
	for i, in := range t.order {
		in.committed = c.pos[i]
	}
	t.app.stats.Commits.Add(1)
	return nil
}
