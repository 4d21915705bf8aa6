// Package gcpace paces Go's garbage collector in a process that keeps a
// large set of bytes on purpose, such as a read cache.
//
// GOGC sets the heap's headroom between collections as a percentage of
// what the last one found live. A server that keeps its live heap small
// runs well at a high GOGC (fewer collections); but when most of what is
// live is a cache of a fixed size, the same percentage applies to the
// cache too: a cluster node with a full 256 MiB read cache at GOGC=400
// grew to 1.4 GB resident, and every allocation on the way faulted in new
// pages (a quarter of its CPU under produce load). A Pacer sets GOGC after
// each collection so that the headroom is the chosen percentage of the
// live heap outside the resident set only (never less than a floor): the
// cache is counted once.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Percent is the GOGC that gives a heap of live bytes, resident of which
// are kept on purpose, a headroom of percent of the rest and at least
// floor bytes; at most percent (what a heap with nothing resident gets),
// at least 1.
func Percent(percent int, floor, live, resident int64) int {
	if live <= 0 || percent <= 0 {
		return percent
	}
	work := live - min(max(resident, 0), live)
	head := max(work*int64(percent)/100, floor)
	return int(min(max(head*100/live, 1), int64(percent)))
}

// Pacer sets GOGC after every collection (Start).
type Pacer struct {
	percent  int
	floor    int64
	resident func() int64

	mu      sync.Mutex
	stopped bool
	last    int // the GOGC set last
	sample  []metrics.Sample
}

// sentinel is allocated for each collection to notice: its cleanup runs
// once a collection has found it unreachable. Large enough not to share a
// tiny allocation block with other objects (whose cleanups may never run).
type sentinel struct{ _ [32]byte }

// Start paces the collector from now on: after each collection GOGC is
// Percent(percent, floor, live heap, resident()). resident must be safe
// to call from any goroutine and cheap. Stop ends it and sets GOGC back to
// percent.
func Start(percent int, floor int64, resident func() int64) *Pacer {
	p := &Pacer{percent: percent, floor: floor, resident: resident, last: percent,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	debug.SetGCPercent(percent)
	p.arm()
	return p
}

// arm asks to be told about the next collection.
func (p *Pacer) arm() {
	runtime.AddCleanup(&sentinel{}, func(p *Pacer) { p.collected() }, p)
}

// collected runs after a collection: it sets GOGC for the next one.
func (p *Pacer) collected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	metrics.Read(p.sample)
	var live int64
	if v := p.sample[0].Value; v.Kind() == metrics.KindUint64 {
		live = int64(v.Uint64())
	}
	if g := Percent(p.percent, p.floor, live, p.resident()); g != p.last {
		debug.SetGCPercent(g)
		p.last = g
	}
	p.arm()
}

// GOGC is the percentage set last.
func (p *Pacer) GOGC() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Stop stops pacing and sets GOGC back to the percentage Start was given.
func (p *Pacer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		debug.SetGCPercent(p.percent)
	}
}
