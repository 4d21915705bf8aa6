package kafka_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

// dropProxy forwards Kafka connections to a listener and, while armed,
// swallows the next Produce response and cuts that connection: the
// request was served and appended, but the client never hears of it and
// must retry.
type dropProxy struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32 // responses still to drop
	dropped atomic.Int32
	wg      sync.WaitGroup
}

func startDropProxy(t *testing.T) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		var mu sync.Mutex
		produce := map[int32]bool{} // correlation ids of Produce requests
		p.wg.Add(2)
		go func() { // client -> server, noting Produce requests
			defer p.wg.Done()
			defer s.Close()
			for {
				frame, err := readFrame(c)
				if err != nil {
					return
				}
				if binary.BigEndian.Uint16(frame[4:]) == 0 { // key 0: Produce
					mu.Lock()
					produce[int32(binary.BigEndian.Uint32(frame[8:]))] = true
					mu.Unlock()
				}
				if _, err := s.Write(frame); err != nil {
					return
				}
			}
		}()
		go func() { // server -> client, dropping an armed Produce response
			defer p.wg.Done()
			defer c.Close()
			for {
				frame, err := readFrame(s)
				if err != nil {
					return
				}
				mu.Lock()
				isProduce := produce[int32(binary.BigEndian.Uint32(frame[4:]))]
				mu.Unlock()
				if isProduce && p.armed.Add(-1) >= 0 {
					p.dropped.Add(1)
					c.Close()
					s.Close()
					return
				}
				if _, err := c.Write(frame); err != nil {
					return
				}
			}
		}()
	}
}

// readFrame reads one size-prefixed frame, prefix included.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}

// TestIdempotentRetryAfterDroppedConnection: produce responses are lost
// with their connections, three times; the idempotent kgo producer retries
// the same sequences, the broker answers the retries with the original
// offsets instead of appending again, and every record is stored exactly
// once.
func TestIdempotentRetryAfterDroppedConnection(t *testing.T) {
	proxy := startDropProxy(t)
	// A node that advertises the proxy, so every connection goes through it.
	never, _ := broker.ParseFsyncPolicy("never")
	srv, _, stop, err := server.Start(context.Background(), server.Config{
		DataDir: t.TempDir(), Fsync: never, KafkaAddr: "127.0.0.1:0", KafkaAdvertisedAddr: proxy.ln.Addr().String(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	proxy.target = srv.KafkaAddr()
	go proxy.serve()
	createTopicCore(t, srv, "idem", 2, nil)
	cl := newClient(t, proxy.ln.Addr().String(), kgo.DefaultProduceTopic("idem"), kgo.ProducerLinger(0))
	const total = 300
	for i := range total {
		if i == 50 || i == 150 || i == 250 {
			proxy.armed.Store(1)
		}
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if d := proxy.dropped.Load(); d != 3 {
		t.Fatalf("%d responses dropped, want 3", d)
	}
	got := consumeAll(t, srv.KafkaAddr(), "idem", 2, total)
	seen := map[string]int{}
	count := 0
	for _, rs := range got {
		for _, r := range rs {
			seen[string(r.Value)]++
			count++
		}
	}
	info, err := srv.Broker.DescribeTopic("idem")
	if err != nil {
		t.Fatal(err)
	}
	stored := info.Partitions[0].HighWatermark + info.Partitions[1].HighWatermark
	if stored != total || count != total || len(seen) != total {
		t.Fatalf("stored %d records (%d read, %d distinct), want %d each", stored, count, len(seen), total)
	}
}
