package objstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Op names a Store operation, for Faulty.
type Op int

// The operations of a Store.
const (
	OpPut Op = iota
	OpGet
	OpDelete
	OpList
	numOps
)

func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpGet:
		return "get"
	case OpDelete:
		return "delete"
	case OpList:
		return "list"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// ErrInjected is matched (errors.Is) by every error Faulty injects.
var ErrInjected = errors.New("injected object store fault")

// InjectedError is an error made by Faulty.
type InjectedError struct {
	// Op is the operation that failed.
	Op Op
	// Key is the key (or List's prefix) of the operation.
	Key string
	// Applied is true when the operation took effect in the store and only
	// its response was lost (Fault.LostResponseRate).
	Applied bool
}

func (e *InjectedError) Error() string {
	if e.Applied {
		return fmt.Sprintf("%s %q: injected fault: applied, response lost", e.Op, e.Key)
	}
	return fmt.Sprintf("%s %q: injected fault", e.Op, e.Key)
}

// Is makes errors.Is(err, ErrInjected) true.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Fault says how Faulty disturbs one operation. The zero Fault disturbs
// nothing. Latency comes first, then a stall, then the error decisions.
type Fault struct {
	// ErrorRate is the probability (0 to 1) that a call fails with an
	// *InjectedError without reaching the store.
	ErrorRate float64
	// LostResponseRate is the probability that a call reaches the store,
	// takes effect, and then fails with an *InjectedError whose Applied is
	// true, as when a PUT's response is lost on the network.
	LostResponseRate float64
	// Func, when set, is called for each call; a non-nil error fails the
	// call without reaching the store (return an *InjectedError, or any
	// error to imitate a particular failure).
	Func func(op Op, key string) error
	// Latency, when set, returns a delay added before the call (see
	// LatencyPercentiles). The delay ends early, with the context's error,
	// when the context ends.
	Latency func() time.Duration
	// Stall makes every call wait until its context ends, then fail with
	// the context's error, as a store that stopped answering.
	Stall bool
}

// FaultCounts counts what Faulty did to one operation.
type FaultCounts struct {
	// Calls is the number of calls.
	Calls int64
	// Failed is the number failed without reaching the store.
	Failed int64
	// LostResponses is the number applied whose response was lost.
	LostResponses int64
	// Stalled is the number that stalled.
	Stalled int64
}

// Faulty is a Store decorator that injects faults, for fault tests of the
// code above a store. Its faults can be changed while it is in use (a test
// may fail PUTs for a while, then stall everything, then heal). With no
// faults set it passes every call through unchanged.
type Faulty struct {
	inner Store

	mu     sync.Mutex
	faults [numOps]Fault
	counts [numOps]FaultCounts
	rng    *rand.Rand
}

// NewFaulty wraps inner. seed makes the random decisions repeatable.
func NewFaulty(inner Store, seed uint64) *Faulty {
	return &Faulty{inner: inner, rng: rand.New(rand.NewPCG(seed, 0xfa17))}
}

// Inner returns the wrapped store.
func (f *Faulty) Inner() Store { return f.inner }

// Set makes op's calls suffer fault from now on (the zero Fault heals op).
func (f *Faulty) Set(op Op, fault Fault) {
	f.mu.Lock()
	f.faults[op] = fault
	f.mu.Unlock()
}

// SetAll makes every operation suffer fault from now on.
func (f *Faulty) SetAll(fault Fault) {
	f.mu.Lock()
	for op := range f.faults {
		f.faults[op] = fault
	}
	f.mu.Unlock()
}

// Heal removes every fault.
func (f *Faulty) Heal() { f.SetAll(Fault{}) }

// Counts returns what was done to op's calls so far.
func (f *Faulty) Counts(op Op) FaultCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// decision is what happens to one call.
type decision struct {
	delay time.Duration
	stall bool
	err   error // fail before the store
	lose  bool  // apply, then fail
}

func (f *Faulty) decide(op Op, key string) decision {
	f.mu.Lock()
	fault := f.faults[op]
	c := &f.counts[op]
	c.Calls++
	var d decision
	if fault.Latency != nil {
		d.delay = fault.Latency()
	}
	d.stall = fault.Stall
	if d.stall {
		c.Stalled++
	}
	if fault.ErrorRate > 0 && f.rng.Float64() < fault.ErrorRate {
		d.err = &InjectedError{Op: op, Key: key}
	} else if op != OpGet && op != OpList && fault.LostResponseRate > 0 && f.rng.Float64() < fault.LostResponseRate {
		d.lose = true
	}
	f.mu.Unlock()
	// Func runs outside the lock: it may block or call the store.
	if d.err == nil && fault.Func != nil {
		d.err = fault.Func(op, key)
	}
	f.mu.Lock()
	if d.err != nil {
		c.Failed++
	} else if d.lose {
		c.LostResponses++
	}
	f.mu.Unlock()
	return d
}

// before applies a decision's delay and stall, and returns the error that
// ends the call before the store is reached, if any.
func before(ctx context.Context, d decision) error {
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if d.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return d.err
}

// Put implements Store.
func (f *Faulty) Put(ctx context.Context, key string, data []byte) error {
	d := f.decide(OpPut, key)
	if err := before(ctx, d); err != nil {
		return err
	}
	if err := f.inner.Put(ctx, key, data); err != nil {
		return err
	}
	if d.lose {
		return &InjectedError{Op: OpPut, Key: key, Applied: true}
	}
	return nil
}

// GetRange implements Store.
func (f *Faulty) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := before(ctx, f.decide(OpGet, key)); err != nil {
		return nil, err
	}
	return f.inner.GetRange(ctx, key, off, n)
}

// Delete implements Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	d := f.decide(OpDelete, key)
	if err := before(ctx, d); err != nil {
		return err
	}
	if err := f.inner.Delete(ctx, key); err != nil {
		return err
	}
	if d.lose {
		return &InjectedError{Op: OpDelete, Key: key, Applied: true}
	}
	return nil
}

// List implements Store.
func (f *Faulty) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := before(ctx, f.decide(OpList, prefix)); err != nil {
		return nil, err
	}
	return f.inner.List(ctx, prefix)
}

// LatencyPercentiles returns a Fault.Latency drawing delays from a
// log-normal distribution with median p50 and 99th percentile p99 (an
// object store's usual shape: S3 Standard PUTs are near p50 100 ms, p99
// 200 ms). seed makes the draws repeatable. p99 < p50 is treated as p50.
func LatencyPercentiles(p50, p99 time.Duration, seed uint64) func() time.Duration {
	const z99 = 2.3263478740408408 // the standard normal's 99th percentile
	mu := math.Log(float64(max(p50, 1)))
	sigma := 0.0
	if p99 > p50 {
		sigma = (math.Log(float64(p99)) - mu) / z99
	}
	var lmu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x1a7))
	return func() time.Duration {
		lmu.Lock()
		z := rng.NormFloat64()
		lmu.Unlock()
		return time.Duration(math.Exp(mu + sigma*z))
	}
}
