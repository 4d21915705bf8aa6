package stream

import (
	"context"
	"encoding/binary"
	"fmt"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// storeDef describes a state store of the topology; each task has its own
// instance (kvStore).
type storeDef struct {
	name string
	// changelog is the compacted topic every change is written to; for a
	// table read from a topic it is "" and table names that topic.
	changelog string
	table     *source
	windowed  bool

	key   keyCodec
	value valueCodec
	// forward, for a table's store (Aggregate, Reduce), passes a key's
	// new value downstream: at each change, or with the record cache on,
	// once per commit with the latest value (kvStore.flushCache).
	forward func(t *task, e *entry, ts int64) error
}

// keyCodec and valueCodec convert a store's typed keys and values to and
// from bytes (internal datums, see datum).
type keyCodec interface {
	encode(v any) ([]byte, error)
	// appendEncode appends v's bytes to dst (a reused buffer).
	appendEncode(dst []byte, v any) ([]byte, error)
	decode(b []byte) (any, error)
}

type valueCodec = keyCodec

// entry is one key's state.
type entry struct {
	k     string // the store key (the map's key), set by put
	key   any
	value any
	start int64 // windowed stores: the window's start (Unix ms)
	// cached: the entry's latest value waits in the record cache to be
	// forwarded at the commit, with timestamp cacheTS.
	cached  bool
	cacheTS int64
}

// kvStore is a task's instance of a store: an in-memory map from the
// encoded key (for windowed stores, 8 bytes of window start first) to the
// entry, restored from the changelog. Changes are written to the
// changelog when the task commits, the last change of each key only (a
// compacted changelog keeps no more).
type kvStore struct {
	def *storeDef
	m   map[string]*entry
	// minStart is the earliest window start held (windowed stores), or
	// noWindow.
	minStart int64
	// dirty holds the keys changed since the last commit, with the
	// timestamp of their last change.
	dirty map[string]int64
	// cache is the record cache: the entries changed since the last
	// commit whose latest value is yet to be forwarded, in the order of
	// their first change (so a flush is deterministic).
	cache []*entry
	// tableDecode decodes the records of a table's topic while restoring.
	tableDecode decodeFunc
}

func (s *kvStore) get(k []byte) (*entry, bool) {
	e, ok := s.m[string(k)]
	return e, ok
}

// put sets k's entry; the change reaches the changelog at the commit.
func (s *kvStore) put(k []byte, e *entry, ts int64) {
	s.insert(k, e)
	s.touch(e.k, ts)
}

// insert sets k's entry; changed must follow.
func (s *kvStore) insert(k []byte, e *entry) {
	e.k = string(k)
	s.m[e.k] = e
	if s.def.windowed {
		s.minStart = min(s.minStart, e.start)
	}
}

// changed records that e (an entry of s, changed in place or just put)
// has a new value at ts: the changelog gets it at the commit, and the
// store's downstream nodes get it now or, with the record cache on, at
// the commit (the latest value of each key once per commit).
func (s *kvStore) changed(t *task, e *entry, ts int64) error {
	s.touch(e.k, ts)
	if s.def.forward == nil {
		return nil
	}
	if !t.app.opts.caching {
		return s.def.forward(t, e, ts)
	}
	e.cacheTS = ts
	if !e.cached {
		e.cached = true
		s.cache = append(s.cache, e)
		t.cached++
	}
	return nil
}

// flushCache forwards the latest value of every key changed since the
// last commit, in the order of their first change, and empties the cache.
func (s *kvStore) flushCache(t *task) error {
	if len(s.cache) == 0 {
		return nil
	}
	cache := s.cache
	s.cache = nil
	for i, e := range cache {
		cache[i] = nil
		e.cached = false
		if s.m[e.k] != e {
			continue // removed or replaced since
		}
		if err := s.def.forward(t, e, e.cacheTS); err != nil {
			return err
		}
	}
	if s.cache == nil {
		s.cache = cache[:0] // reuse the slice unless forwarding refilled it
	}
	return nil
}

// remove deletes k; a tombstone reaches the changelog at the commit.
func (s *kvStore) remove(k []byte, ts int64) {
	delete(s.m, string(k))
	s.touch(string(k), ts)
}

func (s *kvStore) touch(k string, ts int64) {
	if s.def.changelog == "" {
		return
	}
	if s.dirty == nil {
		s.dirty = map[string]int64{}
	}
	s.dirty[k] = ts
}

// flush adds the changed keys' last values (or tombstones) to the task's
// transaction, for its changelog partition.
func (s *kvStore) flush(t *task) error {
	for k, ts := range s.dirty {
		var vb []byte
		if e, ok := s.m[k]; ok {
			var err error
			if vb, err = s.def.value.encode(e.value); err != nil {
				return fmt.Errorf("store %s: encode value: %w", s.def.name, err)
			}
		}
		t.tx.AddRecord(s.def.changelog, rawRecord([]byte(k), vb, ts, &t.id))
	}
	clear(s.dirty)
	return nil
}

// appendWindowKey appends a windowed store's key to dst: the window
// start, then the key.
func appendWindowKey(dst []byte, start int64, k []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	return append(dst, k...)
}

// restore rebuilds the store of task partition p: a changelog is read to
// its end; a table's topic up to upTo (the committed offset: what the
// task has consumed of it).
func (s *kvStore) restore(ctx context.Context, a *App, p int32, upTo int64) error {
	topic := s.def.changelog
	if topic == "" {
		topic = s.def.table.topic
		if upTo <= 0 {
			return nil
		}
	}
	if s.def.table != nil {
		d, err := s.def.table.mkDecode(a.conn)
		if err != nil {
			return fmt.Errorf("restore store %s from %s/%d: %w", s.def.name, topic, p, err)
		}
		s.tableDecode = d
	}
	offset := int64(0)
	for {
		res, err := a.conn.Broker().Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: offset, MaxRecords: 5000}))
		if err != nil {
			if connect.CodeOf(err) == connect.CodeOutOfRange {
				// Compaction or retention moved the start: begin there.
				lo, lerr := a.logStart(ctx, topic, p)
				if lerr == nil && lo > offset {
					offset = lo
					continue
				}
			}
			return fmt.Errorf("restore store %s from %s/%d at %d: %w", s.def.name, topic, p, offset, err)
		}
		b := client.NewRecordBatch(topic, p, res.Msg.GetRecords())
		for i := range b.Len() {
			if s.def.changelog == "" && b.Offset(i) >= upTo {
				return nil
			}
			if err := s.apply(ctx, b, i); err != nil {
				return fmt.Errorf("restore store %s from %s/%d at offset %d: %w", s.def.name, topic, p, b.Offset(i), err)
			}
			offset = b.Offset(i) + 1
		}
		if b.Len() == 0 || offset >= res.Msg.GetHighWatermark() {
			return nil
		}
	}
}

// apply puts record i of b, of the changelog (or table), into the map.
func (s *kvStore) apply(ctx context.Context, b *client.RecordBatch, i int) error {
	if s.def.table != nil {
		rec, err := s.tableDecode(ctx, b, i)
		if err != nil {
			return err
		}
		kb, err := s.def.key.encode(rec.key)
		if err != nil {
			return err
		}
		if b.Value(i) == nil {
			delete(s.m, string(kb))
			return nil
		}
		s.insert(kb, &entry{key: rec.key, value: rec.value})
		return nil
	}
	k := b.Key(i)
	if b.Value(i) == nil {
		delete(s.m, string(k))
		return nil
	}
	e := &entry{}
	kb := k
	if s.def.windowed {
		if len(k) < 8 {
			return fmt.Errorf("windowed changelog key of %d bytes, want at least 8", len(k))
		}
		e.start = int64(binary.BigEndian.Uint64(k))
		kb = k[8:]
	}
	var err error
	if e.key, err = s.def.key.decode(kb); err != nil {
		return errCodec("key", err)
	}
	if e.value, err = s.def.value.decode(b.Value(i)); err != nil {
		return errCodec("value", err)
	}
	s.insert(k, e)
	return nil
}

// logStart answers a partition's log start offset.
func (a *App) logStart(ctx context.Context, topic string, p int32) (int64, error) {
	res, err := a.conn.Broker().ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: topic, Partitions: []int32{p}, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}}))
	if err != nil {
		return 0, err
	}
	for _, o := range res.Msg.GetOffsets() {
		return o.GetOffset(), nil
	}
	return 0, fmt.Errorf("list offsets %s/%d: no answer", topic, p)
}

// newStore registers a store of the app.
func (a *App) newStore(kind string, windowed bool, kc keyCodec, vc valueCodec) *storeDef {
	name := a.name(kind)
	d := &storeDef{name: name, changelog: a.id + "-" + name + "-changelog", windowed: windowed, key: kc, value: vc}
	a.stores = append(a.stores, d)
	return d
}
