// Package pgnotify shares one PostgreSQL connection among a node's
// LISTENers.
//
// PostgreSQL signals every listening backend of a database at each NOTIFY,
// whatever the channel: a node that kept one listening connection per
// component (shared log, registry, ACLs) cost the server one wake-up per
// component and per node for every commit. A Hub holds one connection that
// LISTENs on the channels its subscribers name and hands each notification
// to the subscribers of its channel.
//
// Notifications are lost while the connection is down, so each
// Subscription also reports that it may have missed some: once its
// channel is LISTENed on (on the first connection and after every
// reconnection), and when its queue overflowed. The subscriber then reads
// the state it follows again (listen first, then read: nothing falls in
// between).
package pgnotify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultMaxQueued is Config.MaxQueued's default.
const DefaultMaxQueued = 4096

// Config configures a Hub.
type Config struct {
	// ConnConfig is the connection to open (copied at each connection;
	// pgxpool.Pool.Config().ConnConfig, say); required.
	ConnConfig *pgx.ConnConfig
	// Logger gets a warning per lost connection; nil discards. Warn, when
	// set, gets them instead.
	Logger *slog.Logger
	Warn   func(msg string, err error)
	// MinBackoff and MaxBackoff bound the pause before a reconnection,
	// doubled after each failure; defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxQueued bounds the payloads a subscription holds for its reader;
	// past it they are dropped and the subscription reports Missed.
	// Default DefaultMaxQueued.
	MaxQueued int
}

// Hub is one connection LISTENing for several subscribers. Safe for
// concurrent use.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	subs map[string]map[*Subscription]struct{}
	// listening holds the channels LISTENed on the current connection.
	listening map[string]bool
	// interrupt ends the current wait for a notification (to LISTEN on a
	// new channel); nil while not waiting.
	interrupt context.CancelFunc
	wake      chan struct{}
	closed    bool
}

// New starts a hub; it connects once it has a subscriber. Close stops it.
func New(cfg Config) (*Hub, error) {
	if cfg.ConnConfig == nil {
		return nil, errors.New("pgnotify: Config.ConnConfig is required")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(cfg.MinBackoff, 5*time.Second)
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{cfg: cfg, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		subs: map[string]map[*Subscription]struct{}{}, listening: map[string]bool{}, wake: make(chan struct{}, 1)}
	go h.run()
	return h, nil
}

// Close stops the hub and closes its connection; its subscriptions get no
// more notifications. Idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	<-h.done
}

// Subscription is one subscriber's view of a channel. Its Ready channel
// gets a value when Take has something to return.
type Subscription struct {
	hub     *Hub
	channel string

	ready chan struct{}

	mu       sync.Mutex
	payloads []string
	missed   bool
}

// Subscribe starts following channel (a PostgreSQL identifier: letters,
// digits, underscores). The subscription reports Missed once the hub
// LISTENs on it: read the followed state then.
func (h *Hub) Subscribe(channel string) (*Subscription, error) {
	if !validChannel(channel) {
		return nil, errors.New("pgnotify: channel " + quote(channel) + " must be 1 to 63 of [a-z0-9_], starting with a letter or _")
	}
	s := &Subscription{hub: h, channel: channel, ready: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("pgnotify: hub closed")
	}
	m := h.subs[channel]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[channel] = m
	}
	m[s] = struct{}{}
	if h.listening[channel] {
		// Notifications before this call are not this subscriber's to
		// miss, but it still reads the state once.
		s.markMissed()
	} else {
		h.kickLocked()
	}
	return s, nil
}

// kickLocked makes the loop look at the channels again.
func (h *Hub) kickLocked() {
	if h.interrupt != nil {
		h.interrupt()
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Ready gets a value when Take has payloads or a missed signal.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the payloads received since the last call, in order,
// appended to buf, and whether notifications may have been missed since
// (the subscriber then reads the state it follows again).
func (s *Subscription) Take(buf []string) (payloads []string, missed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf = append(buf, s.payloads...)
	clear(s.payloads)
	s.payloads = s.payloads[:0]
	missed, s.missed = s.missed, false
	return buf, missed
}

// Close ends the subscription. The hub keeps LISTENing on its channel
// until reconnecting without it.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.channel]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.channel)
		}
	}
}

func (s *Subscription) deliver(payload string, limit int) {
	s.mu.Lock()
	if len(s.payloads) >= limit {
		clear(s.payloads)
		s.payloads = s.payloads[:0]
		s.missed = true
	} else {
		s.payloads = append(s.payloads, payload)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) markMissed() {
	s.mu.Lock()
	s.missed = true
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (h *Hub) run() {
	defer close(h.done)
	h.loop()
}

// loop connects, serves the connection, and reconnects until Close.
func (h *Hub) loop() {
	backoff := h.cfg.MinBackoff
	for {
		// Wait for a subscriber before connecting.
		for {
			h.mu.Lock()
			n := len(h.subs)
			h.mu.Unlock()
			if n > 0 {
				break
			}
			select {
			case <-h.ctx.Done():
				return
			case <-h.wake:
			}
		}
		err := h.serve(func() { backoff = h.cfg.MinBackoff })
		if h.ctx.Err() != nil {
			return
		}
		if h.cfg.Warn != nil {
			h.cfg.Warn("PostgreSQL notifications: connection lost; reconnecting in "+backoff.String(), err)
		} else {
			h.log.Warn("PostgreSQL notifications: connection lost; reconnecting", "err", err, "in", backoff)
		}
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, h.cfg.MaxBackoff)
	}
}

// serve runs one connection's life.
func (h *Hub) serve(connected func()) error {
	conn, err := pgx.ConnectConfig(h.ctx, h.cfg.ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	h.mu.Lock()
	clear(h.listening)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		clear(h.listening)
		h.mu.Unlock()
	}()
	first := true
	for {
		if err := h.listenNew(conn); err != nil {
			return err
		}
		if first {
			first = false
			connected()
		}
		h.mu.Lock()
		if h.pendingLocked() {
			// Subscribed to after listenNew looked.
			h.mu.Unlock()
			continue
		}
		wctx, cancel := context.WithCancel(h.ctx)
		h.interrupt = cancel
		h.mu.Unlock()
		n, err := conn.WaitForNotification(wctx)
		h.mu.Lock()
		h.interrupt = nil
		h.mu.Unlock()
		cancel()
		if err != nil {
			if h.ctx.Err() != nil {
				return h.ctx.Err()
			}
			if wctx.Err() != nil && !conn.IsClosed() {
				continue // interrupted for a new channel
			}
			return err
		}
		h.dispatch(n.Channel, n.Payload)
	}
}

// pendingLocked reports a subscribed channel not listened on yet.
func (h *Hub) pendingLocked() bool {
	for c := range h.subs {
		if !h.listening[c] {
			return true
		}
	}
	return false
}

// listenNew LISTENs on the subscribed channels not yet listened on and
// tells their subscribers that they may have missed notifications.
func (h *Hub) listenNew(conn *pgx.Conn) error {
	for {
		h.mu.Lock()
		var ch string
		for c := range h.subs {
			if !h.listening[c] {
				ch = c
				break
			}
		}
		h.mu.Unlock()
		if ch == "" {
			return nil
		}
		if _, err := conn.Exec(h.ctx, "LISTEN "+ch); err != nil {
			return err
		}
		h.mu.Lock()
		h.listening[ch] = true
		for s := range h.subs[ch] {
			s.markMissed()
		}
		h.mu.Unlock()
	}
}

func (h *Hub) dispatch(channel, payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[channel] {
		s.deliver(payload, h.cfg.MaxQueued)
	}
}

// validChannel accepts the unquoted identifiers LISTEN takes as they are
// (PostgreSQL folds unquoted names to lower case; NOTIFY's pg_notify does
// not).
func validChannel(c string) bool {
	if len(c) == 0 || len(c) > 63 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case b >= 'a' && b <= 'z', b == '_':
		case b >= '0' && b <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + s + `"`
}
