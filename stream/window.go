package stream

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
)

// Windows are time windows of a grouped stream: [start, start+Size) for
// every start that is a multiple of Advance (Unix time), so Advance ==
// Size gives tumbling windows and Advance < Size hopping ones. A window
// accepts records until stream time reaches its end plus Grace.
type Windows struct {
	Size, Advance, Grace time.Duration
}

// Tumbling are adjacent windows of size, each closed grace after its end.
func Tumbling(size, grace time.Duration) Windows {
	return Windows{Size: size, Advance: size, Grace: grace}
}

// Hopping are windows of size starting every advance (overlapping when
// advance < size), each closed grace after its end.
func Hopping(size, advance, grace time.Duration) Windows {
	return Windows{Size: size, Advance: advance, Grace: grace}
}

// Windowed is the key of a window's result: the record key and the window.
type Windowed[K any] struct {
	Key        K
	Start, End time.Time
}

// WindowedGroup is a grouped stream cut into windows.
type WindowedGroup[K, V any] struct {
	g *Grouped[K, V]
	w Windows
}

// WindowedBy cuts g into windows w.
func WindowedBy[K, V any](g *Grouped[K, V], w Windows) *WindowedGroup[K, V] {
	a := g.s.app
	switch {
	case w.Size <= 0 || w.Advance <= 0 || w.Grace < 0:
		a.fail(fmt.Errorf("stream %s: windows: size %v and advance %v must be positive and grace %v not negative", a.id, w.Size, w.Advance, w.Grace))
	case w.Advance > w.Size:
		a.fail(fmt.Errorf("stream %s: windows: advance %v is larger than size %v (records between windows would be lost)", a.id, w.Advance, w.Size))
	case w.Size%time.Millisecond != 0 || w.Advance%time.Millisecond != 0 || w.Grace%time.Millisecond != 0:
		a.fail(fmt.Errorf("stream %s: windows: size, advance and grace must be whole milliseconds", a.id))
	}
	return &WindowedGroup[K, V]{g: g, w: w}
}

// windowNode is a windowed aggregation: it closes windows as stream time
// passes their end plus grace, emitting each final result once.
type windowNode struct {
	store *storeDef
	w     Windows
	out   *node
	// agg is the aggregating node; feeds are the inputs that reach it
	// (Run finds them), whose stream time is the window's clock.
	agg   *node
	feeds []string
	// emit builds the result record of a closed window.
	emit func(e *entry) record
}

// WindowAggregate folds each key's values per window (init, agg as in
// Aggregate) and emits each window's final aggregate once, when the
// window closes; vac encodes the aggregates in the store's changelog.
func WindowAggregate[K, V, VA any](wg *WindowedGroup[K, V], init func() VA, agg func(K, V, VA) VA, vac client.Codec[VA]) *Stream[Windowed[K], VA] {
	return windowFold(wg, func(k K, v V) VA { return agg(k, v, init()) }, agg, vac)
}

// windowFold is the windowed aggregation: first makes a window's value of
// its first record, next folds the following ones in.
func windowFold[K, V, VA any](wg *WindowedGroup[K, V], first func(K, V) VA, next func(K, V, VA) VA, vac client.Codec[VA]) *Stream[Windowed[K], VA] {
	g := wg.g
	a := g.s.app
	out := &Stream[Windowed[K], VA]{app: a, n: &node{}}
	out.n.process = out.n.forward
	vd, err := newDatum(vac)
	if err != nil {
		a.fail(fmt.Errorf("stream %s: windowed aggregation: value codec: %w", a.id, err))
		return out
	}
	if g.kd == nil {
		return out
	}
	st := a.newStore("window", true, g.kd, vd)
	size, adv, grace := wg.w.Size.Milliseconds(), wg.w.Advance.Milliseconds(), wg.w.Grace.Milliseconds()
	wn := &windowNode{store: st, w: wg.w, out: out.n, emit: func(e *entry) record {
		end := e.start + size
		return record{key: Windowed[K]{Key: e.key.(K), Start: time.UnixMilli(e.start), End: time.UnixMilli(end)}, value: e.value, ts: end - 1}
	}}
	a.closers = append(a.closers, wn)
	wn.agg = g.s.n.child(func(t *task, r record) error {
		kb, err := g.kd.appendEncode(t.keyBuf[:0], r.key)
		if err != nil {
			return fmt.Errorf("windowed aggregation %s: encode key: %w", st.name, err)
		}
		t.keyBuf = kb
		s := t.stores[st]
		k, v := r.key.(K), r.value.(V)
		now := wn.time(t)
		// Every window holding r.ts: starts in (ts-size, ts], multiples of adv.
		last := r.ts - mod(r.ts, adv)
		for start := last; start > r.ts-size; start -= adv {
			if start+size+grace <= now {
				t.app.stats.Late.Add(1)
				continue // closed: a late record
			}
			wk := appendWindowKey(t.winBuf[:0], start, kb)
			t.winBuf = wk
			if e, ok := s.get(wk); ok {
				e.value = next(k, v, e.value.(VA))
				s.touch(e.k, r.ts)
			} else {
				s.put(wk, &entry{key: r.key, value: first(k, v), start: start}, r.ts)
			}
		}
		return nil
	})
	return out
}

// WindowCount counts each key's records per window, emitting each
// window's final count once.
func WindowCount[K, V any](wg *WindowedGroup[K, V]) *Stream[Windowed[K], int64] {
	return WindowAggregate(wg, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }, primitive.Int64())
}

// WindowReduce combines each key's values per window with f (a window's
// first value is kept as it is), emitting each window's final value once;
// vc encodes them in the changelog.
func WindowReduce[K, V any](wg *WindowedGroup[K, V], f func(V, V) V, vc client.Codec[V]) *Stream[Windowed[K], V] {
	return windowFold(wg, func(_ K, v V) V { return v }, func(_ K, v V, cur V) V { return f(cur, v) }, vc)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// close emits and deletes, in order of window end then key, every window
// of t's store that stream time has closed.
func (wn *windowNode) close(t *task) error {
	s := t.stores[wn.store]
	size, grace := wn.w.Size.Milliseconds(), wn.w.Grace.Milliseconds()
	now := wn.time(t)
	if len(s.m) == 0 || s.minStart == noWindow || now < s.minStart+size+grace {
		return nil
	}
	type closed struct {
		k string
		e *entry
	}
	var done []closed
	minStart := noWindow
	for k, e := range s.m {
		if e.start+size+grace <= now {
			done = append(done, closed{k, e})
		} else {
			minStart = min(minStart, e.start)
		}
	}
	s.minStart = minStart
	slices.SortFunc(done, func(a, b closed) int {
		if a.e.start != b.e.start {
			if a.e.start < b.e.start {
				return -1
			}
			return 1
		}
		return bytes.Compare([]byte(a.k), []byte(b.k))
	})
	for _, c := range done {
		r := wn.emit(c.e)
		s.remove([]byte(c.k), r.ts)
		if err := wn.out.forward(t, r); err != nil {
			return err
		}
	}
	return nil
}

// noWindow is kvStore.minStart when the store holds no window.
const noWindow = int64(1<<63 - 1)

// time is the window's stream time in task t: the largest timestamp
// processed from the inputs that feed it. (An input that reaches the
// windows only through a repartition topic does not move their clock:
// its records reach them later, through that topic.)
func (wn *windowNode) time(t *task) int64 {
	now := int64(noTime)
	for _, topic := range wn.feeds {
		if in := t.inputs[topic]; in != nil {
			now = max(now, in.streamTime)
		}
	}
	return now
}

// findFeeds sets each window node's feeds: the sources from which it is
// reachable.
func (a *App) findFeeds() {
	for _, s := range a.sources {
		seen := map[*node]bool{}
		var walk func(n *node)
		walk = func(n *node) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, c := range n.children {
				walk(c)
			}
		}
		walk(s.n)
		for _, wn := range a.closers {
			if seen[wn.agg] {
				wn.feeds = append(wn.feeds, s.topic)
			}
		}
	}
}

// groupInputs numbers the input groups: two inputs are in one group when
// some node is reachable from both (a join, a merge, a shared aggregate).
func (a *App) groupInputs() {
	reach := make([]map[*node]bool, len(a.sources))
	for i, s := range a.sources {
		seen := map[*node]bool{}
		var walk func(n *node)
		walk = func(n *node) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, c := range n.children {
				walk(c)
			}
		}
		walk(s.n)
		reach[i] = seen
	}
	parent := make([]int, len(a.sources))
	for i := range parent {
		parent[i] = i
	}
	var find func(i int) int
	find = func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	for i := range a.sources {
		for j := i + 1; j < len(a.sources); j++ {
			for n := range reach[i] {
				if reach[j][n] {
					parent[find(j)] = find(i)
					break
				}
			}
		}
	}
	ids := map[int]int{}
	for i, s := range a.sources {
		r := find(i)
		if _, ok := ids[r]; !ok {
			ids[r] = len(ids)
		}
		s.group = ids[r]
	}
	a.groups = len(ids)
}
