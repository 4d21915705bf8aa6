package shared

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
)

// cache is the node's read-through cache of object blocks: block i of an
// object is its bytes [i*block, (i+1)*block). Least recently used blocks
// go first when the bytes held pass max. Concurrent misses of one block
// share one GET.
type cache struct {
	block int64
	max   int64

	mu      sync.Mutex
	used    int64
	lru     *list.List // of *cacheEntry, most recent first
	m       map[blockKey]*list.Element
	loading map[blockKey]*blockLoad
}

type blockKey struct {
	key string
	idx int64
}

type cacheEntry struct {
	k blockKey
	b []byte
}

type blockLoad struct {
	done chan struct{}
	b    []byte
	err  error
}

func newCache(max int64, block int) *cache {
	return &cache{block: int64(block), max: max, lru: list.New(), m: map[blockKey]*list.Element{}, loading: map[blockKey]*blockLoad{}}
}

// size is the bytes of the blocks held.
func (c *cache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// insertLocked adds a block, evicting the least recently used.
func (c *cache) insertLocked(k blockKey, b []byte) {
	if int64(len(b)) > c.max {
		return
	}
	if e, ok := c.m[k]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.m[k] = c.lru.PushFront(&cacheEntry{k: k, b: b})
	c.used += int64(len(b))
	for c.used > c.max {
		e := c.lru.Back()
		ce := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.m, ce.k)
		c.used -= int64(len(ce.b))
	}
}

// putObject caches a whole object this node just committed (data is not
// modified afterwards; blocks alias it).
func (c *cache) putObject(key string, data []byte) {
	if int64(len(data)) > c.max/2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := int64(0); i*c.block < int64(len(data)); i++ {
		end := min((i+1)*c.block, int64(len(data)))
		c.insertLocked(blockKey{key, i}, data[i*c.block:end:end])
	}
}

// get returns block idx of the object key (objSize bytes long).
func (c *cache) get(ctx context.Context, l *Log, key string, objSize, idx int64) ([]byte, error) {
	k := blockKey{key, idx}
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		c.lru.MoveToFront(e)
		b := e.Value.(*cacheEntry).b
		c.mu.Unlock()
		l.stats.CacheHits.Add(1)
		return b, nil
	}
	if ld, ok := c.loading[k]; ok {
		c.mu.Unlock()
		select {
		case <-ld.done:
			return ld.b, ld.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ld := &blockLoad{done: make(chan struct{})}
	c.loading[k] = ld
	c.mu.Unlock()
	l.stats.CacheMisses.Add(1)
	off := idx * c.block
	n := min(c.block, objSize-off)
	var err error
	for attempt := 0; ; attempt++ {
		ld.b, err = l.objs.GetRange(ctx, key, off, n)
		if err == nil && int64(len(ld.b)) != n {
			err = fmt.Errorf("object %s: read %d bytes at %d, want %d", key, len(ld.b), off, n)
		}
		if err == nil || attempt == 2 || isNotFound(err) || backoff(ctx, attempt) != nil {
			break
		}
	}
	if err != nil {
		ld.err = fmt.Errorf("%w: read object %s: %w", ErrUnavailable, key, err)
		ld.b = nil
	}
	c.mu.Lock()
	delete(c.loading, k)
	if err == nil {
		c.insertLocked(k, ld.b)
	}
	c.mu.Unlock()
	close(ld.done)
	return ld.b, ld.err
}

// readCached appends bytes [off, off+n) of object key to dst if every
// block holding them is cached, reporting whether it did. It neither loads
// a block nor counts as a use of one: a merge reading its sources leaves
// the cache to the readers.
func (c *cache) readCached(dst []byte, key string, off, n int64) ([]byte, bool) {
	if off < 0 || n <= 0 {
		return dst, false
	}
	l0 := len(dst)
	first, last := off/c.block, (off+n-1)/c.block
	blocks := make([][]byte, 0, last-first+1)
	c.mu.Lock()
	for idx := first; idx <= last; idx++ {
		e, ok := c.m[blockKey{key, idx}]
		if !ok {
			c.mu.Unlock()
			return dst, false
		}
		blocks = append(blocks, e.Value.(*cacheEntry).b)
	}
	c.mu.Unlock()
	// Blocks are never modified: copy them outside the lock.
	dst = slices.Grow(dst, int(n))
	for i, b := range blocks {
		start := (first + int64(i)) * c.block
		from, to := max(off-start, 0), min(off+n-start, c.block)
		if to > int64(len(b)) {
			return dst[:l0], false // the object ends before the range does
		}
		dst = append(dst, b[from:to]...)
	}
	return dst, true
}

// read appends bytes [off, off+n) of object key to dst.
func (c *cache) read(ctx context.Context, l *Log, dst []byte, key string, objSize, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > objSize {
		return dst, fmt.Errorf("shared log: object %s: bytes [%d, +%d) are outside its %d bytes: %w", key, off, n, objSize, ErrCorruptObject)
	}
	dst = slices.Grow(dst, int(n))
	for pos := off; pos < off+n; {
		idx := pos / c.block
		b, err := c.get(ctx, l, key, objSize, idx)
		if err != nil {
			return dst, err
		}
		from := pos - idx*c.block
		to := min(int64(len(b)), off+n-idx*c.block)
		dst = append(dst, b[from:to]...)
		pos = idx*c.block + to
	}
	return dst, nil
}
