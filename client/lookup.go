package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/serde"
)

// A consumer meets a schema id it has not seen and asks the registry for the
// writer schema. That lookup can fail in two ways, which a consumer must not
// confuse:
//
//   - the record is bad: its bytes name a schema the registry does not know
//     (NotFound, InvalidArgument), or do not decode under the schema it
//     names. The decode policy applies (fail, skip, raw, dead-letter).
//   - the registry is: unreachable, answering 5xx, too slow, refusing the
//     consumer's credentials. The record is fine, and skipping or
//     dead-lettering it would lose it. The consumer retries with capped
//     exponential back-off and, if the failure outlasts LookupRetry's limit
//     (or cannot heal by retrying, like refused credentials), ends Run with
//     a *LookupError.

// DefaultLookupRetry is how long a consumer retries, by default, the
// registry lookups that one record needs before Run ends with a
// *LookupError.
const DefaultLookupRetry = time.Minute

// Back-off between the attempts of one record's lookups: the first wait,
// the longest wait, and the longest a single attempt may take.
const (
	lookupFirstWait  = 100 * time.Millisecond
	lookupMaxWait    = 5 * time.Second
	lookupAttemptMax = 10 * time.Second
)

// LookupRetry bounds how long a consumer retries the registry lookups that
// one record needs when they fail for a reason that is not the record's
// (the registry unreachable, an HTTP 5xx, a timeout): it waits 100ms, then
// twice as long each time up to 5s, and once limit has passed ends Run
// with a *LookupError; the record is neither skipped nor dead-lettered, and
// a group member has not committed it. 0 gives up after the first failed
// attempt. The default is DefaultLookupRetry. Each attempt also times out
// after 10s, or a third of limit if that is shorter.
func LookupRetry(limit time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.lookupLimit = limit }
}

// LookupError is a registry lookup that a consumer needed to decode a record
// and that failed for a reason that is not the record's: the registry was
// unreachable, answered with a server error or timed out for longer than
// LookupRetry allows, or refused the call in a way retrying cannot change
// (credentials, permissions, a URL that serves no registry). Run ends with
// it; the record was neither skipped nor dead-lettered.
type LookupError struct {
	// Registry is the registry's base URL.
	Registry string
	// Schema is the schema the record names (an id or a GUID).
	Schema serde.Identity
	// Topic, Partition and Offset locate the record; Side is "key" or
	// "value".
	Topic     string
	Partition int32
	Offset    int64
	Side      string
	// Attempts is how many times the lookup was tried, over Elapsed.
	Attempts int
	Elapsed  time.Duration
	// Err is the last attempt's error.
	Err error
}

// Error names the registry, the schema, the record and the last error.
func (e *LookupError) Error() string {
	where := ""
	if e.Topic != "" {
		where = fmt.Sprintf("consumer %s partition %d offset %d %s: ", e.Topic, e.Partition, e.Offset, e.Side)
	}
	tries := ""
	switch {
	case e.Attempts > 1:
		tries = fmt.Sprintf(" (%d attempts over %s)", e.Attempts, e.Elapsed.Round(time.Millisecond))
	case e.Attempts == 1 && !e.Retryable():
		tries = " (not retried: retrying cannot fix this)"
	}
	return fmt.Sprintf("%sregistry %s: cannot look up schema %s%s: %v; the record was neither skipped nor dead-lettered",
		where, e.Registry, e.Schema, tries, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *LookupError) Unwrap() error { return e.Err }

// Retryable reports whether trying again may succeed: the registry was
// unreachable, overloaded, failing or slow, rather than refusing the caller.
func (e *LookupError) Retryable() bool {
	switch connect.CodeOf(e.Err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeInternal,
		connect.CodeUnknown, connect.CodeResourceExhausted, connect.CodeAborted:
		return true
	}
	return false
}

// lookupError wraps err, the failure of a registry call that a record's
// schema ident needed: as a *LookupError unless the registry answered that
// the record's schema does not exist or cannot (NotFound, InvalidArgument),
// which is the record's fault and returned as it is.
func (c *Conn) lookupError(ident serde.Identity, err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeNotFound, connect.CodeInvalidArgument:
		return err
	}
	return &LookupError{Registry: c.registryURL, Schema: ident, Err: err}
}

// decodeRetrying decodes r into m (zero), trying again while the registry
// lookups it needs fail with a retryable *LookupError, for at most the
// LookupRetry limit. It returns a *LookupError (with the record's place)
// when they keep failing, the record's *DecodeError when the record is bad,
// and whatever decode returned once ctx is done. *actx is the consumer's
// attempt context (under ctx), renewed for each attempt.
func (c *Consumer[K, V]) decodeRetrying(ctx context.Context, actx **attemptContext, r *wireRecord, m *Message[K, V]) error {
	var start time.Time
	wait := lookupFirstWait
	for attempt := 1; ; attempt++ {
		*actx = (*actx).renew(c.opts.lookupAttemptTimeout())
		*m = Message[K, V]{}
		err := c.decodeInto(*actx, r, m)
		began := (*actx).stop()
		var le *LookupError
		if err == nil || ctx.Err() != nil || !errors.As(err, &le) {
			return err
		}
		if start.IsZero() {
			// From the first lookup of the first attempt (a record whose
			// schemas are cached reads no clock).
			start = began
			if start.IsZero() {
				start = time.Now()
			}
		}
		elapsed := time.Since(start)
		if !le.Retryable() || elapsed+wait > c.opts.lookupLimit {
			le.Topic, le.Partition, le.Offset = c.topic, r.partition, r.offset
			var de *DecodeError
			if errors.As(err, &de) {
				le.Side = de.Side
			}
			le.Attempts, le.Elapsed = attempt, elapsed
			return le
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, lookupMaxWait)
	}
}

// attemptContext is the context of one attempt's lookups: the parent with
// the attempt's timeout, made only when a lookup first asks for it. A
// record whose schemas are cached (nearly every record) then costs no
// timer: context.WithTimeout per record was a seventh of a PostgreSQL
// sink's CPU time. A consumer keeps one and renews it for each attempt.
type attemptContext struct {
	parent  context.Context
	timeout time.Duration

	// used is set once a lookup has asked for the context: an attempt
	// without lookups (the schemas cached) then renews and stops without
	// the lock.
	used atomic.Bool

	mu      sync.Mutex
	timed   context.Context
	cancel  context.CancelFunc
	started time.Time // when a lookup first asked for it
}

// renew returns the context of the next attempt, with timeout: a itself
// when no lookup has asked for it (nothing started, nothing observed),
// otherwise a new one. A lookup of an earlier attempt may still hold a
// (a goroutine that outlives the attempt): it keeps seeing that attempt's
// context, cancelled, not a fresh one that a reset would have given it.
func (a *attemptContext) renew(timeout time.Duration) *attemptContext {
	if !a.used.Load() {
		if a.timeout != timeout {
			a.mu.Lock()
			a.timeout = timeout
			a.mu.Unlock()
		}
		return a
	}
	return &attemptContext{parent: a.parent, timeout: timeout}
}

func (a *attemptContext) get() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timed == nil {
		a.used.Store(true)
		a.started = time.Now()
		a.timed, a.cancel = context.WithTimeout(a.parent, a.timeout)
	}
	return a.timed
}

func (a *attemptContext) Deadline() (time.Time, bool) { return a.get().Deadline() }
func (a *attemptContext) Done() <-chan struct{}       { return a.get().Done() }
func (a *attemptContext) Err() error                  { return a.get().Err() }
func (a *attemptContext) Value(key any) any           { return a.get().Value(key) }

// stop releases the attempt's timer, if a lookup started it, and returns
// when that was (zero if none did).
func (a *attemptContext) stop() time.Time {
	if !a.used.Load() {
		return time.Time{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
	return a.started
}

// lookupAttemptTimeout is how long one attempt of a record's lookups may
// take: 10s, or a third of the retry limit if that is shorter, so that a
// registry that hangs is tried more than once.
func (o *consumerOptions) lookupAttemptTimeout() time.Duration {
	if o.lookupLimit > 0 {
		return min(lookupAttemptMax, max(o.lookupLimit/3, time.Millisecond))
	}
	return lookupAttemptMax
}
