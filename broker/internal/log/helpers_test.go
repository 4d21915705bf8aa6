package log

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// testLogger sends logs to t.Log and keeps them for assertions.
type testLogger struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *testLogger) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(b)
	w.mu.Unlock()
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func (w *testLogger) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func newTestLogger(t testing.TB) (*slog.Logger, *testLogger) {
	w := &testLogger{t: t}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testConfig is a config on fs with test logging, a fake clock and no
// background maintenance.
func testConfig(t testing.TB, fs vfs.FS, clock *fakeClock) Config {
	lg, _ := newTestLogger(t)
	return Config{FS: fs, Logger: lg, Now: clock.Now, MaintenanceInterval: -1}
}

func mustOpen(t testing.TB, dir string, cfg Config) *Partition {
	t.Helper()
	p, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustAppend(t testing.TB, p *Partition, recs ...Record) int64 {
	t.Helper()
	off, err := p.Append(context.Background(), recs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return off
}

// readAll reads every record from offset to the high watermark.
func readAll(t testing.TB, p *Partition, from int64) []Record {
	t.Helper()
	var out []Record
	for {
		recs, err := p.Read(from, 0, 0)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		from = recs[len(recs)-1].Offset + 1
	}
}

// kv makes a record with string key and value; "" stays empty, use nil
// fields directly for null.
func kv(k, v string) Record { return Record{Key: []byte(k), Value: []byte(v)} }

// numbered makes n records "k<i>"/"v<i>" starting at i0.
func numbered(i0, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = kv(fmt.Sprintf("k%d", i0+i), fmt.Sprintf("v%d", i0+i))
	}
	return recs
}

// sameRecords checks key, value, headers and offsets, keeping nil distinct
// from empty.
func sameRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d\ngot:  %s\nwant: %s", len(got), len(want), fmtRecords(got), fmtRecords(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || !sameHeaders(g.Headers, w.Headers) ||
			(w.Timestamp != 0 && g.Timestamp != w.Timestamp) {
			t.Fatalf("record %d:\ngot  %s\nwant %s", i, fmtRecord(g), fmtRecord(w))
		}
	}
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func sameHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !sameBytes(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func fmtBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("%q", b)
}

func fmtRecord(r Record) string {
	s := fmt.Sprintf("{off=%d ts=%d key=%s value=%s", r.Offset, r.Timestamp, fmtBytes(r.Key), fmtBytes(r.Value))
	for _, h := range r.Headers {
		s += fmt.Sprintf(" h[%q]=%s", h.Key, fmtBytes(h.Value))
	}
	return s + "}"
}

func fmtRecords(rs []Record) string {
	s := ""
	for _, r := range rs {
		s += fmtRecord(r) + " "
	}
	return s
}

// withOffsets returns copies of recs numbered from off.
func withOffsets(off int64, recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Offset = off + int64(i)
		out[i] = r
	}
	return out
}
