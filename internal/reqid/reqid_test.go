package reqid_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/reqid"
)

func attrMap(as []slog.Attr) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[a.Key] = a.Value.String()
	}
	return m
}

func TestAttrs(t *testing.T) {
	n := 0
	mint := func() string { n++; return "made-" + string(rune('0'+n)) }
	tests := []struct {
		name string
		ctx  context.Context
		want map[string]string
	}{
		{"nothing", context.Background(), map[string]string{}},
		{"client's id", reqid.WithSlot(context.Background(), reqid.NewSlot("abc", mint)), map[string]string{"request_id": "abc"}},
		{"made on demand", reqid.WithSlot(context.Background(), reqid.NewSlot("", mint)), map[string]string{"request_id": "made-1"}},
		{"no mint", reqid.WithSlot(context.Background(), reqid.NewSlot("", nil)), map[string]string{}},
		{"kafka request", reqid.WithKafka(context.Background(), reqid.Kafka{ConnID: 7, CorrelationID: 42, ClientID: "app"}),
			map[string]string{"conn_id": "7", "correlation_id": "42", "client_id": "app"}},
		{"kafka connection", reqid.WithKafka(context.Background(), reqid.Kafka{ConnID: 7, NoRequest: true}),
			map[string]string{"conn_id": "7"}},
	}
	for _, tt := range tests {
		got := attrMap(reqid.Attrs(tt.ctx))
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, got[k], v)
			}
		}
	}
}

// TestSlotMintsOnce: concurrent callers all get the one id made.
func TestSlotMintsOnce(t *testing.T) {
	calls := 0
	s := reqid.NewSlot("", func() string { calls++; return "x" })
	if s.Peek() != "" {
		t.Fatal("Peek made an id")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); s.ID() }()
	}
	wg.Wait()
	if calls != 1 || s.Peek() != "x" {
		t.Fatalf("mint called %d times, id %q; want once, x", calls, s.Peek())
	}
}

// TestNewSlotContext: the slot is found through the context, and the
// parent's values still are.
func TestNewSlotContext(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	ctx, s := reqid.NewSlotContext(parent, "", func() string { return "m-1" })
	if reqid.SlotFrom(ctx) != s || ctx.Value(key{}) != "v" {
		t.Fatal("the slot context loses the slot or the parent's value")
	}
	if got := attrMap(reqid.Attrs(ctx)); got["request_id"] != "m-1" || s.Peek() != "m-1" {
		t.Fatalf("Attrs %v, slot %q", got, s.Peek())
	}
}
