package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/bufpool"
	"github.com/sluicehq/sluice/internal/reqid"
)

// Conn is one client connection. Handlers receive it; its methods are safe
// for concurrent use.
type Conn struct {
	srv    *Server
	nc     net.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	clientID atomic.Pointer[string]

	// id numbers the connection within the process: its log lines carry
	// it (conn_id), with the correlation id of the request they are about.
	id uint64

	budget   *budget
	slots    chan struct{} // one per request in flight
	queue    chan *pending // requests in arrival order, to the writer
	stopRead chan struct{} // closed by Shutdown: read no more requests
	stopOnce sync.Once

	closeOnce sync.Once

	// cur is the request in stage 1 (the reader's goroutine only).
	cur *pending

	// auth is the connection's authentication state (sasl_conn.go).
	auth connAuth
}

// FrameWriter is implemented by a response whose bytes are not all in memory
// (Fetch sending segment ranges with sendfile). Instead of AppendTo, the
// writer calls WriteFrame with the connection and the response header (the
// correlation id, plus the empty tag section for flexible versions); it must
// write the 4-byte big-endian size of header plus body, the header, then the
// body. A response that also implements interface{ Release() } has Release
// called once it is written or dropped.
type FrameWriter interface {
	WriteFrame(nc net.Conn, header []byte) error
}

// pending is one request between stage 1 and its response.
type pending struct {
	hdr   requestHeader
	resp  kmsg.Response
	done  chan struct{} // non-nil when a wait func runs; closed when it returns
	err   error         // closes the connection instead of answering
	bytes int64         // budget taken (conn and server)
	// buf holds the request's frame when it came from a pool (nil for a
	// small frame); the decoded request aliases it.
	buf []byte
	// reuse is set (before done is closed) when the handler no longer
	// needs buf once the response is written (reuseRequestBuffer).
	reuse bool
	// start is when stage 1 began, for the request latency (observe.go).
	start time.Time
}

var errStopped = errors.New("connection stopped reading")

// connSeq numbers the connections of the process (Conn.id).
var connSeq atomic.Uint64

func newConn(s *Server, nc net.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	id := connSeq.Add(1)
	return &Conn{
		srv:      s,
		nc:       nc,
		id:       id,
		log:      s.log.With("remote", nc.RemoteAddr().String(), reqid.KeyConnID, id),
		ctx:      ctx,
		cancel:   cancel,
		budget:   newBudget(s.cfg.ConnBudgetBytes),
		slots:    make(chan struct{}, s.cfg.MaxInFlight),
		queue:    make(chan *pending, s.cfg.MaxInFlight),
		stopRead: make(chan struct{}),
	}
}

// Context ends when the connection closes (the client went away, a fatal
// error, or Shutdown's deadline passed). Once the client authenticated it
// carries its principal (auth.FromContext).
func (c *Conn) Context() context.Context {
	if ctx := c.auth.ctx.Load(); ctx != nil {
		return *ctx
	}
	return c.ctx
}

// request is the identity of the request in stage 1 (the reader's
// goroutine only), for log lines about it; outside a request, the
// connection's alone.
func (c *Conn) request() reqid.Kafka {
	if c.cur == nil {
		return reqid.Kafka{ConnID: c.id, NoRequest: true}
	}
	return reqid.Kafka{ConnID: c.id, CorrelationID: c.cur.hdr.corr, ClientID: c.cur.hdr.clientID}
}

// requestContext is Context naming the request in stage 1 (request): for
// a call that may log a refusal or a failed login about it.
func (c *Conn) requestContext() context.Context {
	return reqid.WithKafka(c.Context(), c.request())
}

// Server is the listener the connection belongs to.
func (c *Conn) Server() *Server { return c.srv }

// ClientID is the client id of the latest request on the connection ("" when
// null). Clients send the same one on every request.
func (c *Conn) ClientID() string {
	if p := c.clientID.Load(); p != nil {
		return *p
	}
	return ""
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Logger logs with the connection's remote address.
func (c *Conn) Logger() *slog.Logger { return c.log }

// close ends the connection at once.
func (c *Conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// stopReading makes the reader stop after the request it is reading; the
// writer then answers what was read and the connection closes.
func (c *Conn) stopReading() {
	c.stopOnce.Do(func() {
		close(c.stopRead)
		c.nc.SetReadDeadline(time.Now())
	})
}

func (c *Conn) stopped() bool {
	select {
	case <-c.stopRead:
		return true
	default:
		return false
	}
}

// serve runs the connection until it closes.
func (c *Conn) serve() {
	defer c.srv.connDone(c)
	if !c.startTLS() {
		c.close()
		return
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		c.writeLoop()
	}()
	c.readLoop()
	close(c.queue)
	<-wrote
	c.close()
}

// recovered logs a recovered panic; the caller closes the connection.
func (c *Conn) recovered(where string, hdr requestHeader, p any) {
	c.srv.panics.Add(1)
	c.log.Error("panic in Kafka "+where+"; closing the connection",
		"api", kmsg.NameForKey(hdr.key), "version", hdr.version, "client_id", c.ClientID(),
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

// readLoopHook, set by tests only, runs at the top of each readLoop turn,
// between its stop check and its read deadline.
var readLoopHook atomic.Pointer[func(c *Conn)]

// readLoop reads, decodes and runs stage 1 of each request in turn, and
// queues it for the writer. It returns when the connection must close or
// stop reading.
func (c *Conn) readLoop() {
	var hdr requestHeader
	defer func() {
		if p := recover(); p != nil {
			c.recovered("request reader", hdr, p)
			c.close()
		}
	}()
	var size [4]byte
	idle := c.srv.cfg.IdleTimeout
	// Buffered: a small request's size prefix and body (and pipelined
	// requests behind it) come in one read; a large body bypasses the buffer.
	br := bufio.NewReaderSize(c.nc, readBufferSize)
	for !c.stopped() {
		if h := readLoopHook.Load(); h != nil {
			(*h)(c)
		}
		c.nc.SetReadDeadline(time.Now().Add(idle))
		if c.stopped() {
			// stopReading ran after the loop's check and its deadline
			// (now) was just replaced by the idle one: reading on would
			// wait for the client or the idle timeout, and hold up
			// Shutdown until its context ends.
			return
		}
		n, err := io.ReadFull(br, size[:])
		if err != nil {
			var ne net.Error
			if n == 0 && errors.As(err, &ne) && ne.Timeout() && !c.stopped() && len(c.slots) > 0 {
				continue // idle only while nothing is in flight
			}
			if n == 0 && errors.As(err, &ne) && ne.Timeout() && !c.stopped() {
				c.log.Debug("closing idle Kafka connection", "idle", idle)
			} else if !c.stopped() && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("Kafka connection read failed", "err", err)
			}
			return
		}
		frameLen := int32(binary.BigEndian.Uint32(size[:]))
		if frameLen < 0 || frameLen > c.srv.cfg.MaxRequestBytes {
			c.log.Warn("closing Kafka connection: request larger than the limit (--kafka-max-request-bytes)",
				"size", uint32(frameLen), "limit", c.srv.cfg.MaxRequestBytes)
			return
		}
		if !c.take(int64(frameLen)) {
			return
		}
		p := &pending{bytes: int64(frameLen)}
		frame := bufpool.Get(int(frameLen))
		if len(frame) >= bufpool.Min {
			p.buf = frame
		}
		c.nc.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(br, frame); err != nil {
			putRequestBuffer(p.buf) // nothing was decoded from it
			c.give(p)
			if !c.stopped() {
				c.log.Debug("Kafka connection closed mid-request", "err", err)
			}
			return
		}
		var reg registration
		var req kmsg.Request
		hdr, reg, req, err = c.decode(frame)
		p.hdr = hdr
		if err != nil {
			c.give(p)
			if errors.Is(err, errUnauthenticated) {
				c.log.Info("closing Kafka connection: a request before authentication (only ApiVersions and SASL are answered until the client authenticates)",
					"api", kmsg.NameForKey(hdr.key), reqid.KeyCorrelationID, hdr.corr, reqid.KeyClientID, hdr.clientID)
			} else if errors.Is(err, errUnsupported) {
				c.log.Info("closing Kafka connection: the client sent a request Sluice does not serve (see ApiVersions)",
					"request", err.Error(), reqid.KeyCorrelationID, hdr.corr, reqid.KeyClientID, hdr.clientID)
			} else {
				c.log.Info("closing Kafka connection: malformed request", "err", err, reqid.KeyCorrelationID, hdr.corr, reqid.KeyClientID, hdr.clientID)
			}
			return
		}
		if c.ClientID() != hdr.clientID {
			id := hdr.clientID
			c.clientID.Store(&id)
		}
		if !c.stage1(p, reg, req) {
			return
		}
	}
}

// reuseRequestBuffer is for a handler whose decoded request is handed on
// (a Produce's batches queued to the log alias the request's bytes): it
// returns a func to call, in stage 1 or in the wait func, once nothing
// points into the request's bytes any more. The connection then reuses
// the buffer after writing the response. A handler that never calls it
// leaves the buffer to the garbage collector, the safe default for a
// request whose bytes may be kept (a group member's metadata). Call it in
// stage 1 only.
func (c *Conn) reuseRequestBuffer() func() {
	p := c.cur
	return func() { p.reuse = true }
}

// readBufferSize is the connection's read buffer.
const readBufferSize = 16 << 10

// take reserves an in-flight slot and size bytes of the connection's and the
// server's budgets, waiting for earlier requests to be answered.
func (c *Conn) take(size int64) bool {
	select {
	case c.slots <- struct{}{}:
	case <-c.ctx.Done():
		return false
	case <-c.stopRead:
		return false
	}
	if _, err := c.budget.acquire(c.ctx, c.stopRead, size); err != nil {
		<-c.slots
		return false
	}
	if _, err := c.srv.budget.acquire(c.ctx, c.stopRead, size); err != nil {
		c.budget.release(min(size, c.budget.limit))
		<-c.slots
		return false
	}
	return true
}

// give returns what take reserved for p.
func (c *Conn) give(p *pending) {
	c.budget.release(min(p.bytes, c.budget.limit))
	c.srv.budget.release(min(p.bytes, c.srv.budget.limit))
	<-c.slots
}

// stage1 runs the handler and queues the request for the writer; false
// means stop reading.
func (c *Conn) stage1(p *pending, reg registration, req kmsg.Request) (ok bool) {
	var wait func() kmsg.Response
	start := time.Now()
	p.start = start
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.recovered("handler", p.hdr, r)
				p.resp, wait, p.err = nil, nil, fmt.Errorf("panic in %s handler", kmsg.NameForKey(p.hdr.key))
			}
		}()
		c.cur = p
		defer func() { c.cur = nil }()
		p.resp, wait, p.err = reg.h(c, req)
	}()
	if c.log.Enabled(c.ctx, slog.LevelDebug) {
		c.log.Debug("Kafka request", "api", kmsg.NameForKey(p.hdr.key), "version", p.hdr.version,
			"correlation_id", p.hdr.corr, "client_id", p.hdr.clientID, "stage1", time.Since(start), "waits", wait != nil, "err", p.err)
	}
	failed := p.err != nil // read before a wait goroutine may set p.err
	if !failed && wait != nil {
		p.done = make(chan struct{})
		go func() {
			defer close(p.done)
			defer func() {
				if r := recover(); r != nil {
					c.recovered("wait", p.hdr, r)
					p.resp, p.err = nil, fmt.Errorf("panic in %s wait", kmsg.NameForKey(p.hdr.key))
				}
			}()
			p.resp = wait()
		}()
	}
	select {
	case c.queue <- p: // never blocks: the queue holds a slot's worth
	case <-c.ctx.Done():
		c.give(p)
		return false
	}
	return !failed
}

// writeLoop writes responses in request order until the reader closes the
// queue. Responses already complete when one is written go out in the same
// write (pipelined produces acknowledged by one fsync answer together).
// After a failure it keeps draining the queue to release budgets.
func (c *Conn) writeLoop() {
	var hdr requestHeader
	defer func() {
		if p := recover(); p != nil {
			c.recovered("response writer", hdr, p)
			c.close()
			for p := range c.queue {
				c.give(p)
			}
		}
	}()
	var (
		buf     []byte     // encoded responses not yet written
		written []*pending // the requests of buf (and of skipped answers)
		held    *pending   // taken from the queue while coalescing
		failed  bool
	)
	fail := func(err error) {
		if err != nil {
			c.log.Debug("Kafka response write failed", "err", err)
		}
		failed = true
		c.close()
	}
	flush := func() {
		if len(buf) > 0 && !failed {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				fail(err)
			}
		}
		for _, p := range written {
			c.finish(p)
		}
		written = written[:0]
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
		buf = buf[:0]
	}
	for {
		p := held
		held = nil
		if p == nil {
			var ok bool
			if p, ok = <-c.queue; !ok {
				flush()
				return
			}
		}
		hdr = p.hdr
		if p.done != nil {
			select {
			case <-p.done:
			case <-c.ctx.Done():
			}
		}
		if !failed && c.ctx.Err() == nil {
			switch {
			case p.err != nil:
				flush()
				if !errors.Is(p.err, context.Canceled) {
					c.log.Info("closing Kafka connection", "api", kmsg.NameForKey(p.hdr.key), "version", p.hdr.version,
						reqid.KeyCorrelationID, p.hdr.corr, reqid.KeyClientID, p.hdr.clientID, "err", p.err)
				}
				fail(nil)
			case p.resp != nil:
				if fw, ok := p.resp.(FrameWriter); ok {
					flush()
					if !failed {
						c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
						h := appendResponseHeader(nil, p.hdr.corr, p.resp)
						if err := fw.WriteFrame(c.nc, h[4:]); err != nil {
							fail(err)
						}
					}
				} else {
					start := len(buf)
					buf = appendResponseHeader(buf, p.hdr.corr, p.resp)
					buf = p.resp.AppendTo(buf)
					putSize(buf[start:])
				}
			}
		}
		written = append(written, p)
		// Coalesce: a next answer already complete joins this write.
		if !failed && len(buf) < maxKeptBuffer {
			select {
			case q, ok := <-c.queue:
				if !ok {
					flush()
					return
				}
				held = q
				if q.done == nil || isDone(q.done) {
					continue
				}
			default:
			}
		}
		flush()
	}
}

// isDone reports whether ch is closed.
func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// finish releases p's response and, when its handler allowed it, its
// request buffer (unless a wait still owns them), and gives back what take
// reserved.
func (c *Conn) finish(p *pending) {
	c.observe(p) // observe.go: request latency
	if p.done == nil || isDone(p.done) {
		release(p.resp)
		if p.reuse && p.buf != nil {
			putRequestBuffer(p.buf)
			p.buf = nil
		}
	}
	c.give(p)
}

func release(r kmsg.Response) {
	if rr, ok := r.(interface{ Release() }); ok {
		rr.Release()
	}
}

// maxKeptBuffer is the largest response buffer kept for the next response.
const maxKeptBuffer = 1 << 20
