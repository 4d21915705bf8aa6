package group

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed: the coordinator was closed.
var ErrClosed = errors.New("group: coordinator closed")

// Coordinator owns a State in one goroutine and runs every operation there,
// in arrival order: the single owner of group state (franz-go kfake's
// cluster.run is the model). It also wakes watchers of members whose
// assignment changed. Its methods are safe for concurrent use.
type Coordinator struct {
	ops  chan func()
	quit chan struct{}
	done chan struct{}
	once sync.Once
	st   *State
	// watch is owned by the goroutine: Consume streams waiting for their
	// member's assignment to change.
	watch map[[2]string]chan struct{}
}

// NewCoordinator starts a coordinator over a new State. Close stops it.
func NewCoordinator(cfg Config) *Coordinator {
	c := &Coordinator{
		ops:   make(chan func()),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		st:    NewState(cfg),
		watch: map[[2]string]chan struct{}{},
	}
	go c.run()
	return c
}

func (c *Coordinator) run() {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case op := <-c.ops:
			op()
			for _, k := range c.st.TakeChanged() {
				if ch := c.watch[k]; ch != nil {
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}
}

// Do runs fn on the coordinator's goroutine with its State and waits for it.
// fn must not block or do I/O. Do returns ctx.Err() if ctx ends before fn
// runs (fn then never runs) and ErrClosed after Close.
func (c *Coordinator) Do(ctx context.Context, fn func(*State)) error {
	fin := make(chan struct{})
	select {
	case c.ops <- func() { fn(c.st); close(fin) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return ErrClosed
	}
	<-fin
	return nil
}

// Watch registers a channel that receives (without blocking, coalescing) a
// value whenever the member's assignment changes. unwatch removes it.
func (c *Coordinator) Watch(ctx context.Context, groupID, memberID string) (ch <-chan struct{}, unwatch func(), err error) {
	w := make(chan struct{}, 1)
	k := [2]string{groupID, memberID}
	if err := c.Do(ctx, func(*State) { c.watch[k] = w }); err != nil {
		return nil, nil, err
	}
	return w, func() { c.Do(context.Background(), func(*State) { delete(c.watch, k) }) }, nil
}

// Close stops the goroutine and waits for it. Close is idempotent.
func (c *Coordinator) Close() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}
