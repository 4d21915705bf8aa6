package stream

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/client"
)

// TableFrom reads topic as a table: the latest value per key (a null value
// deletes the key). The topic must have as many partitions as the other
// inputs and be keyed like the streams joined with it. Its store needs no
// changelog: a task restores it from the topic, up to its committed
// offset there.
func TableFrom[K, V any](app *App, topic string, kc client.Codec[K], vc client.Codec[V]) *Table[K, V] {
	t := &Table[K, V]{app: app, n: &node{}, kc: kc, vc: vc}
	t.n.process = t.n.forward
	kd, err := newDatum(kc)
	if err != nil {
		app.fail(fmt.Errorf("stream %s: table %s: key codec: %w", app.id, topic, err))
		return t
	}
	src := app.addSource(topic, false, func(conn *client.Conn) (decodeFunc, error) {
		d, err := client.NewRecordDecoder(conn, topic, kc, vc)
		if err != nil {
			return nil, err
		}
		var m client.Message[K, V] // reused: a decodeFunc serves one goroutine
		return func(ctx context.Context, b *client.RecordBatch, i int) (record, error) {
			if err := d.DecodeAt(ctx, b, i, &m); err != nil {
				return record{}, err
			}
			rec := record{key: m.Key, value: m.Value, ts: m.Timestamp.UnixMilli()}
			if b.Value(i) == nil {
				rec.value = nil // a tombstone
			}
			return rec, nil
		}, nil
	})
	st := &storeDef{name: app.name("table"), table: src, key: kd}
	app.stores = append(app.stores, st)
	src.table, t.store = st, st
	src.n.children = append(src.n.children, &node{process: func(tk *task, r record) error {
		kb, err := kd.appendEncode(tk.keyBuf[:0], r.key)
		if err != nil {
			return fmt.Errorf("table %s: encode key: %w", topic, err)
		}
		tk.keyBuf = kb
		s := tk.stores[st]
		if r.value == nil {
			delete(s.m, string(kb))
			return nil
		}
		s.insert(kb, &entry{key: r.key, value: r.value})
		return t.n.forward(tk, r)
	}})
	return t
}

// Join joins each record of s with the table's current value for its key
// (an inner join: records whose key the table lacks are dropped). s must
// be partitioned by its key like the table's topic.
func Join[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], f func(K, V, VT) VR) *Stream[K, VR] {
	return join(s, t, func(k K, v V, vt VT, ok bool) (VR, bool) {
		if !ok {
			var zero VR
			return zero, false
		}
		return f(k, v, vt), true
	})
}

// LeftJoin is Join keeping every record of s: found says whether the table
// had the key (vt is the zero VT when not).
func LeftJoin[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], f func(k K, v V, vt VT, found bool) VR) *Stream[K, VR] {
	return join(s, t, func(k K, v V, vt VT, ok bool) (VR, bool) { return f(k, v, vt, ok), true })
}

func join[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], f func(K, V, VT, bool) (VR, bool)) *Stream[K, VR] {
	a := s.app
	out := &Stream[K, VR]{app: a, n: &node{}, kc: s.kc}
	out.n.process = out.n.forward
	switch {
	case t.app != a:
		a.fail(fmt.Errorf("stream %s: Join of a table of another app", a.id))
		return out
	case s.rekeyed:
		a.fail(fmt.Errorf("stream %s: Join after a key change (Map, FlatMap): call Repartition(stream, keyCodec, valueCodec) first so that each key reaches the task holding it in the table", a.id))
		return out
	case t.store == nil:
		return out // the table failed to build
	}
	st := t.store
	s.n.child(func(tk *task, r record) error {
		kb, err := st.key.appendEncode(tk.keyBuf[:0], r.key)
		if err != nil {
			return fmt.Errorf("join with %s: encode key: %w", st.name, err)
		}
		tk.keyBuf = kb
		var vt VT
		e, ok := tk.stores[st].get(kb)
		if ok {
			vt = e.value.(VT)
		}
		vr, keep := f(r.key.(K), r.value.(V), vt, ok)
		if !keep {
			return nil
		}
		return out.n.forward(tk, record{key: r.key, value: vr, ts: r.ts})
	})
	return out
}
