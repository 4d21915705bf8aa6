package stream

import (
	"fmt"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
)

// Grouped is a stream grouped by its key, ready to aggregate.
type Grouped[K, V any] struct {
	s  *Stream[K, V]
	kd *datum[K]
}

// GroupByKey groups s by its key. The records must be partitioned by that
// key: a stream read from a topic keyed by it, or one that went through
// Repartition after its key changed; and the key codec must be known (it
// is for both).
func GroupByKey[K, V any](s *Stream[K, V]) *Grouped[K, V] {
	g := &Grouped[K, V]{s: s}
	switch {
	case s.rekeyed:
		s.app.fail(fmt.Errorf("stream %s: GroupByKey after a key change (Map, FlatMap): call Repartition(stream, keyCodec, valueCodec) first so that each key reaches one task", s.app.id))
	case s.kc == nil:
		s.app.fail(fmt.Errorf("stream %s: GroupByKey: the key codec is unknown; call Repartition(stream, keyCodec, valueCodec) first", s.app.id))
	default:
		kd, err := newDatum(s.kc)
		if err != nil {
			s.app.fail(fmt.Errorf("stream %s: GroupByKey: key codec: %w", s.app.id, err))
		}
		g.kd = kd
	}
	return g
}

// GroupBy groups s by a new key: Map to the key, Repartition with kc and
// vc, GroupByKey.
func GroupBy[K, V, K2 any](s *Stream[K, V], key func(K, V) K2, kc client.Codec[K2], vc client.Codec[V]) *Grouped[K2, V] {
	m := Map(s, func(k K, v V) (K2, V) { return key(k, v), v })
	return GroupByKey(Repartition(m, kc, vc))
}

// Table is a changelog stream: the latest value per key, kept in a store
// of each task.
type Table[K, V any] struct {
	app   *App
	n     *node // forwards the updates
	store *storeDef
	kc    client.Codec[K]
	vc    client.Codec[V]
}

// ToStream is the stream of the table's updates, each with the new value:
// for a table built by Count, Aggregate or Reduce, the latest value of
// each key changed since the last commit, at the commit (see Caching), or
// one record per change with Caching(false); for a table read from a
// topic (TableFrom), one record per value read (deletions are not
// forwarded).
func (t *Table[K, V]) ToStream() *Stream[K, V] {
	return &Stream[K, V]{app: t.app, n: t.n, kc: t.kc, vc: t.vc}
}

// Aggregate folds each key's values into an aggregate: init gives the
// first one, agg the next. The aggregates are kept in a store (an
// in-memory map per task, changelog <app>-<store>-changelog, encoded with
// vac) and the updates go to the table's stream (see ToStream).
func Aggregate[K, V, VA any](g *Grouped[K, V], init func() VA, agg func(K, V, VA) VA, vac client.Codec[VA]) *Table[K, VA] {
	a := g.s.app
	t := &Table[K, VA]{app: a, n: &node{}, kc: g.s.kc, vc: vac}
	vd, err := newDatum(vac)
	if err != nil {
		a.fail(fmt.Errorf("stream %s: Aggregate: value codec: %w", a.id, err))
		return t
	}
	if g.kd == nil {
		return t // GroupByKey failed
	}
	st := a.newStore("aggregate", false, g.kd, vd)
	st.forward = t.forwardEntry
	t.store = st
	n := g.s.n.child(nil)
	n.process = func(tk *task, r record) error {
		kb, err := g.kd.appendEncode(tk.keyBuf[:0], r.key)
		if err != nil {
			return fmt.Errorf("aggregate %s: encode key: %w", st.name, err)
		}
		tk.keyBuf = kb
		s := tk.stores[st]
		e, ok := s.get(kb)
		if ok {
			e.value = agg(r.key.(K), r.value.(V), e.value.(VA))
		} else {
			e = &entry{key: r.key, value: agg(r.key.(K), r.value.(V), init())}
			s.insert(kb, e)
		}
		return s.changed(tk, e, r.ts)
	}
	t.n.process = t.n.forward
	return t
}

// forwardEntry passes a store entry (its key, its value) to the table's
// stream.
func (t *Table[K, V]) forwardEntry(tk *task, e *entry, ts int64) error {
	return t.n.forward(tk, record{key: e.key, value: e.value, ts: ts})
}

// Count counts the records of each key.
func Count[K, V any](g *Grouped[K, V]) *Table[K, int64] {
	return Aggregate(g, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }, primitive.Int64())
}

// Reduce combines each key's values with f (the first value is kept as
// it is); vc encodes them in the store's changelog.
func Reduce[K, V any](g *Grouped[K, V], f func(V, V) V, vc client.Codec[V]) *Table[K, V] {
	a := g.s.app
	t := &Table[K, V]{app: a, n: &node{}, kc: g.s.kc, vc: vc}
	vd, err := newDatum(vc)
	if err != nil {
		a.fail(fmt.Errorf("stream %s: Reduce: value codec: %w", a.id, err))
		return t
	}
	if g.kd == nil {
		return t
	}
	st := a.newStore("reduce", false, g.kd, vd)
	st.forward = t.forwardEntry
	t.store = st
	t.n.process = t.n.forward
	g.s.n.child(func(tk *task, r record) error {
		kb, err := g.kd.appendEncode(tk.keyBuf[:0], r.key)
		if err != nil {
			return fmt.Errorf("reduce %s: encode key: %w", st.name, err)
		}
		tk.keyBuf = kb
		s := tk.stores[st]
		e, ok := s.get(kb)
		if ok {
			e.value = f(e.value.(V), r.value.(V))
		} else {
			e = &entry{key: r.key, value: r.value}
			s.insert(kb, e)
		}
		return s.changed(tk, e, r.ts)
	})
	return t
}
