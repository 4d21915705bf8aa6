// Package reqid carries the identity of the request being served in its
// context, so that the log lines written on its behalf, far from the
// transport (an ACL refusal in package acl, a failed login in package auth,
// a refused produce in the broker), name it the way the client can find it:
//
//   - an HTTP request (REST, Connect, the console) by its request id, the
//     value of the response's X-Request-Id header: the client's own when it
//     sent a usable one, else one the node makes, on demand, the first time
//     a line or an error response needs it (Slot);
//   - a Kafka request by its connection's id, its correlation id and its
//     client id (Kafka).
//
// Attrs turns a context into those log attributes; a context with neither
// gives none. The transports put the identity in the context (package
// metrics for HTTP, broker/kafka for Kafka); nothing here knows them.
package reqid

import (
	"context"
	"log/slog"
	"sync"
)

// Keys of the log attributes Attrs returns.
const (
	// KeyRequestID is an HTTP request's id (the X-Request-Id value).
	KeyRequestID = "request_id"
	// KeyConnID is a Kafka connection's id, unique within the process.
	KeyConnID = "conn_id"
	// KeyCorrelationID is a Kafka request's correlation id.
	KeyCorrelationID = "correlation_id"
	// KeyClientID is a Kafka request's client id.
	KeyClientID = "client_id"
)

// Slot holds an HTTP request's id: known from the start (the client sent
// one), or made by the mint function the first time ID is called. It is
// safe for concurrent use.
type Slot struct {
	mu   sync.Mutex
	id   string
	mint func() string
}

// NewSlot returns a slot holding id ("" for none yet) that makes an id with
// mint when asked for one it does not have.
func NewSlot(id string, mint func() string) *Slot {
	return &Slot{id: id, mint: mint}
}

// ID returns the request's id, making it first if needed.
func (s *Slot) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" && s.mint != nil {
		s.id = s.mint()
	}
	return s.id
}

// Peek returns the request's id, or "" when none was made yet.
func (s *Slot) Peek() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Kafka identifies one Kafka request.
type Kafka struct {
	// ConnID is the connection's id.
	ConnID uint64
	// CorrelationID is the request's correlation id.
	CorrelationID int32
	// ClientID is the request's client id ("" when null).
	ClientID string
	// NoRequest marks a line about the connection rather than one of its
	// requests (a refused client certificate): only ConnID is logged.
	NoRequest bool
}

type slotKey struct{}

type kafkaKey struct{}

// WithSlot returns ctx carrying an HTTP request's id slot.
func WithSlot(ctx context.Context, s *Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// NewSlotContext returns ctx carrying a new slot (as NewSlot(id, mint)),
// and the slot: one allocation for both, for the per-request path.
func NewSlotContext(ctx context.Context, id string, mint func() string) (context.Context, *Slot) {
	sc := &slotContext{Context: ctx, slot: Slot{id: id, mint: mint}}
	return sc, &sc.slot
}

// slotContext is a context carrying a slot (NewSlotContext).
type slotContext struct {
	context.Context
	slot Slot
}

// Value answers the slot's key, and asks the parent for any other.
func (c *slotContext) Value(key any) any {
	if key == (slotKey{}) {
		return &c.slot
	}
	return c.Context.Value(key)
}

// SlotFrom returns the slot of ctx, nil when it has none.
func SlotFrom(ctx context.Context) *Slot {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	return s
}

// WithKafka returns ctx carrying a Kafka request's identity.
func WithKafka(ctx context.Context, k Kafka) context.Context {
	return context.WithValue(ctx, kafkaKey{}, k)
}

// Attrs returns the log attributes naming the request of ctx: request_id
// for an HTTP request (made now if it had none, so that the response
// carries the same), conn_id, correlation_id and client_id for a Kafka
// request; none for a context without a request.
func Attrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	if s := SlotFrom(ctx); s != nil {
		if id := s.ID(); id != "" {
			return []slog.Attr{slog.String(KeyRequestID, id)}
		}
		return nil
	}
	if k, ok := ctx.Value(kafkaKey{}).(Kafka); ok {
		if k.NoRequest {
			return []slog.Attr{slog.Uint64(KeyConnID, k.ConnID)}
		}
		return []slog.Attr{slog.Uint64(KeyConnID, k.ConnID),
			slog.Int(KeyCorrelationID, int(k.CorrelationID)), slog.String(KeyClientID, k.ClientID)}
	}
	return nil
}
