package server

import (
	"errors"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// workers runs HTTP handlers on long-lived goroutines instead of the one
// the HTTP server starts per request (per stream, under HTTP/2).
//
// Why: a new goroutine starts with a small stack, and a Connect call goes
// deep (net/http, the metrics wrapper, connect's handler and interceptors,
// the broker's enforcement and log): every request grew its goroutine's
// stack, copying it each time. A profile of small produce requests spent 7%
// of the server's CPU in runtime.copystack, more than writing the answers
// to the socket. A worker's stack grows once and serves request after
// request; handing a request over costs two goroutine switches.
//
// The pool grows with concurrency (a request never waits for a worker) and
// shrinks: a worker idle for workerIdle exits. Workers are reused last in,
// first out, so that the ones in use keep warm stacks and the rest age out.
// A handler's panic is caught on the worker and raised again on the
// request's own goroutine, where net/http recovers it as it always has.
type workers struct {
	h    http.Handler
	idle time.Duration // workerIdle; tests shorten it

	mu    sync.Mutex
	free  []*worker // idle workers, most recently used last
	live  int       // workers started and not yet ended
	timer *time.Timer
}

// worker is one long-lived handler goroutine.
type worker struct {
	jobs chan job
	done chan any // the handler's panic value, or nil
	last time.Time
}

// job is one request handed to a worker.
type job struct {
	w http.ResponseWriter
	r *http.Request
}

// workerIdle is how long an idle worker waits for a request before it exits.
const workerIdle = 10 * time.Second

// newWorkers wraps h.
func newWorkers(h http.Handler) *workers { return &workers{h: h, idle: workerIdle} }

// ServeHTTP hands the request to a worker and waits for it.
func (p *workers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wk := p.get()
	wk.jobs <- job{w: w, r: r}
	switch v := <-wk.done; v {
	case nil:
		p.put(wk)
	case errGoexit:
		// The handler called runtime.Goexit, which ended the worker: end
		// the request goroutine the same way.
		p.mu.Lock()
		p.live--
		p.mu.Unlock()
		runtime.Goexit()
	default:
		// The worker recovered and goes on; the request goroutine panics as
		// the handler did, for net/http to handle.
		p.put(wk)
		panic(v)
	}
}

// errGoexit tells ServeHTTP that the handler called runtime.Goexit.
var errGoexit = errors.New("server: handler called runtime.Goexit")

// get returns an idle worker, or starts one.
func (p *workers) get() *worker {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		wk := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return wk
	}
	p.live++
	p.mu.Unlock()
	wk := &worker{jobs: make(chan job), done: make(chan any)}
	go p.run(wk)
	return wk
}

// put returns wk to the idle list and makes sure the reaper will run.
func (p *workers) put(wk *worker) {
	wk.last = time.Now()
	p.mu.Lock()
	p.free = append(p.free, wk)
	if p.timer == nil {
		p.timer = time.AfterFunc(p.idle, p.reap)
	}
	p.mu.Unlock()
}

// reap stops the workers idle for p.idle or more: the oldest, at the front
// of the list.
func (p *workers) reap() {
	cutoff := time.Now().Add(-p.idle)
	p.mu.Lock()
	n := 0
	for n < len(p.free) && p.free[n].last.Before(cutoff) {
		close(p.free[n].jobs)
		n++
	}
	p.live -= n
	p.free = append(p.free[:0], p.free[n:]...)
	clear(p.free[len(p.free):cap(p.free)])
	if len(p.free) > 0 {
		p.timer = time.AfterFunc(p.idle, p.reap)
	} else {
		p.timer = nil
	}
	p.mu.Unlock()
}

// counts returns the workers alive and those idle.
func (p *workers) counts() (live, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, len(p.free)
}

// run is a worker's loop.
func (p *workers) run(wk *worker) {
	for j := range wk.jobs {
		p.serve(wk, j)
	}
}

// serve runs one request and answers on wk.done: nil, the handler's panic
// value, or errGoexit (the worker then ends).
func (p *workers) serve(wk *worker, j job) {
	finished := false
	defer func() {
		if finished {
			return
		}
		v := recover()
		if v == nil {
			v = errGoexit
		}
		wk.done <- v
	}()
	p.h.ServeHTTP(j.w, j.r)
	finished = true
	wk.done <- nil
}
