package shared

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// announceAhead is how many object keys one statement announces in
// sharedlog_uploads: the key an intake window needs now and the next
// ones, kept ready in the Log's key pool. An object then costs PostgreSQL
// one transaction (its commit) instead of two.
const announceAhead = 16

// minKeyAge is the shortest keyMaxAge for which keys are announced ahead:
// with less (an OrphanAge barely above PutTimeout + CommitTimeout), most
// would go stale unused.
const minKeyAge = 100 * time.Millisecond

// keyPool holds object keys whose upload rows are written and that no
// object uses yet. A key is used only while its row is younger than
// keyMaxAge, so that the orphan collector (which takes rows older than
// OrphanAge) cannot take it before its object is committed; older ones
// are dropped and their rows deleted (prune), as are the pool's rows when
// the Log closes. A node that dies leaves them as orphans, which GC
// collects like any upload never committed.
type keyPool struct {
	mu      sync.Mutex
	ready   []pooledKey // oldest first
	filling bool        // a refill is running
	closed  bool
	wg      sync.WaitGroup // refills and deletions of stale keys
	// announced counts the keys whose rows announceKeys wrote (tests).
	announced atomic.Int64
}

type pooledKey struct {
	key string
	at  time.Time // before its row was written: the row is younger
}

// keyMaxAge is how long a pooled key may wait for an object: half of what
// OrphanAge leaves after a PUT's and a commit's deadlines, for the window
// and the wait for the pipeline.
func (l *Log) keyMaxAge() time.Duration {
	return (l.cfg.OrphanAge - l.cfg.PutTimeout - l.cfg.CommitTimeout) / 2
}

// takeKey returns a pooled key young enough to use; ok is false when the
// pool has none. When few are left and no refill runs, a refill starts:
// in the background when a key was taken, else refill is set and the
// caller's announceKeys(its key, true) is the refill, so that two
// statements never fill the pool at once.
func (l *Log) takeKey() (key string, ok, refill bool) {
	kp := &l.keys
	kp.mu.Lock()
	defer kp.mu.Unlock()
	stale := kp.takeStaleLocked(l.keyMaxAge())
	if len(kp.ready) > 0 {
		key, ok = kp.ready[0].key, true
		kp.ready = kp.ready[1:]
	}
	background := false
	if len(kp.ready) < announceAhead/4 && !kp.filling && !kp.closed {
		kp.filling = true
		refill = !ok
		background = ok
	}
	if len(stale) > 0 || background {
		kp.wg.Add(1)
		go func() {
			defer kp.wg.Done()
			if len(stale) > 0 {
				l.forgetKeys(stale) // too old to use: their rows go
			}
			if background {
				_ = l.announceKeys("", true)
			}
		}()
	}
	return key, ok, refill
}

// takeStaleLocked removes the pooled keys too old to use (the oldest
// come first) and returns them.
func (kp *keyPool) takeStaleLocked(maxAge time.Duration) []string {
	var old []string
	for len(kp.ready) > 0 && time.Since(kp.ready[0].at) >= maxAge {
		old = append(old, kp.ready[0].key)
		kp.ready = kp.ready[1:]
	}
	return old
}

// announceKeys writes the upload rows of first (unless empty) and, when
// refill is set (the caller set keyPool.filling, which it clears), of new
// keys for the pool, announceAhead in all, in one statement; the new keys
// join the pool when it succeeds. When it fails, rows it may have written
// are orphans to GC.
func (l *Log) announceKeys(first string, refill bool) error {
	kp := &l.keys
	if refill {
		defer func() {
			kp.mu.Lock()
			kp.filling = false
			kp.mu.Unlock()
		}()
	}
	n := 1
	if refill && l.keyMaxAge() >= minKeyAge {
		n = announceAhead // else keys would go stale before use
	}
	keys := make([]string, 0, n)
	if first != "" {
		keys = append(keys, first)
	}
	for len(keys) < n {
		keys = append(keys, l.newObjectKey())
	}
	at := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.PutTimeout)
	defer cancel()
	_, err := l.pool.Exec(ctx, `INSERT INTO sharedlog_uploads (key, node) SELECT k, $2 FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING`, keys, l.cfg.Node)
	if err != nil {
		return err
	}
	kp.announced.Add(int64(len(keys)))
	extra := keys
	if first != "" {
		extra = keys[1:]
	}
	if len(extra) == 0 {
		return nil
	}
	kp.mu.Lock()
	if kp.closed {
		kp.mu.Unlock()
		l.forgetKeys(extra)
		return nil
	}
	for _, k := range extra {
		kp.ready = append(kp.ready, pooledKey{k, at})
	}
	kp.mu.Unlock()
	return nil
}

// pruneKeys deletes the rows of pooled keys too old to use.
func (l *Log) pruneKeys() {
	kp := &l.keys
	kp.mu.Lock()
	old := kp.takeStaleLocked(l.keyMaxAge())
	kp.mu.Unlock()
	if len(old) > 0 {
		l.forgetKeys(old)
	}
}

// closeKeys stops refills and deletes the rows of the keys left unused.
func (l *Log) closeKeys() {
	kp := &l.keys
	kp.mu.Lock()
	kp.closed = true
	kp.mu.Unlock()
	kp.wg.Wait()
	kp.mu.Lock()
	left := make([]string, 0, len(kp.ready))
	for _, k := range kp.ready {
		left = append(left, k.key)
	}
	kp.ready = nil
	kp.mu.Unlock()
	if len(left) > 0 {
		l.forgetKeys(left)
	}
}

// forgetKeys deletes the upload rows of keys no object was PUT under.
// When it fails the rows stay as orphans, which GC collects.
func (l *Log) forgetKeys(keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.PutTimeout)
	defer cancel()
	if _, err := l.pool.Exec(ctx, `DELETE FROM sharedlog_uploads WHERE key = ANY($1)`, keys); err != nil {
		l.log.Warn("shared log: unused upload rows not deleted; garbage collection takes them later", "keys", len(keys), "err", err)
	}
}
