package pgsink

import (
	"context"
	"sync"
)

// intake is where the sink's consumers put the records they read: the
// batch being filled, under a mutex. The records of a broker response cost
// one append (a copy of the messages) and an uncontended lock, where a
// channel between the consumers and the batch filler cost a send, a
// receive and two copies per record.
// The filler (Sink.Run) is woken through ready at a batch's first records,
// every readyEvery records and when the batch is full; it takes the batch
// whole. Batches come back through recycle once written, so a running sink
// reuses the same few slices instead of allocating (and having the garbage
// collector scan) a new one per batch.
type intake struct {
	max   int
	ready chan struct{} // capacity 1: a wake-up for the filler

	mu     sync.Mutex
	cur    *batchBufs
	space  chan struct{} // closed when a full batch is taken (consumers wait on it)
	free   []*batchBufs
	chunks [][]byte // arena chunks of written batches, empty, for reuse
}

// maxFreeChunks is how many empty arena chunks the intake keeps (4 MiB).
const maxFreeChunks = 64

// readyEvery is how many records a consumer appends between two wake-ups
// of the filler.
const readyEvery = 256

// batchBufs are a batch's records and the buffers planning it uses,
// recycled together once the batch is written.
type batchBufs struct {
	msgs   []message
	ops    []op
	arenas [][]byte // encoded columns, arenaSize chunks only
}

func newIntake(max int) *intake {
	in := &intake{max: max, ready: make(chan struct{}, 1), space: make(chan struct{})}
	in.cur = in.fresh()
	return in
}

// fresh returns empty buffers, recycled when there are some. Called with
// mu held (or before the intake is shared).
func (in *intake) fresh() *batchBufs {
	if n := len(in.free); n > 0 {
		b := in.free[n-1]
		in.free = in.free[:n-1]
		return b
	}
	// A batch of many records grows as it fills rather than reserving its
	// whole size up front.
	return &batchBufs{msgs: make([]message, 0, min(in.max, 1<<15))}
}

// put appends ms (converted: see resolver) to the batch being filled,
// waiting while that batch is full, until ctx is done. A batch that fills
// up ends there: the rest of ms goes to the next one. chunks are arena
// chunks that hold encoded columns of ms and of records put before, none
// after: they go with the batch that takes the last record of ms, and are
// reused once it is written.
func (in *intake) put(ctx context.Context, ms []message, chunks [][]byte) error {
	for len(ms) > 0 {
		in.mu.Lock()
		for len(in.cur.msgs) >= in.max {
			space := in.space
			in.mu.Unlock()
			select {
			case <-space:
			case <-ctx.Done():
				return ctx.Err()
			}
			in.mu.Lock()
		}
		b := in.cur
		before := len(b.msgs)
		k := min(len(ms), in.max-before)
		b.msgs = append(b.msgs, ms[:k]...)
		if k == len(ms) {
			b.arenas = append(b.arenas, chunks...)
		}
		n := len(b.msgs)
		in.mu.Unlock()
		ms = ms[k:]
		if before == 0 || n/readyEvery != before/readyEvery || n == in.max {
			select {
			case in.ready <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
	}
	return nil
}

// chunk returns an empty arena chunk of arenaSize bytes' capacity, a
// reused one when there is one.
func (in *intake) chunk() []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	if n := len(in.chunks); n > 0 {
		c := in.chunks[n-1]
		in.chunks = in.chunks[:n-1]
		return c
	}
	return make([]byte, 0, arenaSize)
}

// len is the number of records in the batch being filled.
func (in *intake) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.cur.msgs)
}

// take returns the batch being filled and starts a new one.
func (in *intake) take() *batchBufs {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := in.cur
	in.cur = in.fresh()
	if len(b.msgs) >= in.max {
		close(in.space) // wake every consumer waiting for room
		in.space = make(chan struct{})
	}
	return b
}

// arenaSize is the size of the chunks the resolver appends encoded columns
// to.
const arenaSize = 64 << 10

// recycle takes back the buffers of a written batch. Nothing may use the
// batch's messages, ops or encoded columns afterwards.
func (in *intake) recycle(b *batchBufs) {
	clear(b.msgs) // drop the references to the records' bytes
	b.msgs = b.msgs[:0]
	clear(b.ops)
	b.ops = b.ops[:0]
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, c := range b.arenas {
		if cap(c) == arenaSize && len(in.chunks) < maxFreeChunks {
			in.chunks = append(in.chunks, c[:0])
		}
	}
	clear(b.arenas)
	b.arenas = b.arenas[:0]
	if len(in.free) < 2 {
		in.free = append(in.free, b)
	}
}
