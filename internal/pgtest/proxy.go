package pgtest

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a PostgreSQL server and cuts them on
// demand, for fault tests: all of them at once (SetCut), or the one that
// sends a given call (CutBefore, CutAfter). A call is recognised by its
// text in a simple query or, for a prepared statement (whose text goes
// over the wire once, in its Parse), at each Bind of it (wire.go). Clients connect to it through
// the URL that Via returns. It is stopped, every connection closed, when
// the test ends. Safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	marker []byte

	before, after atomic.Int32 // armed cuts left
	cuts          atomic.Int32
	wg            sync.WaitGroup
}

// HoldAfter is how long a connection cut by CutAfter stays open to the
// server after the call was forwarded, so that the server runs (and
// commits) it while its answer goes nowhere.
const HoldAfter = 500 * time.Millisecond

// NewProxy listens on a free loopback port and forwards every connection
// to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.SetCut(true)
		p.wg.Wait()
	})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Via returns the PostgreSQL URL u with its host replaced by the proxy's.
func (p *Proxy) Via(t testing.TB, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("pgtest: proxy: %q is not a URL: %v", redact(u), err)
	}
	pu.Host = p.Addr()
	return pu.String()
}

// SetCut(true) closes every open connection and refuses new ones until
// SetCut(false).
func (p *Proxy) SetCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// CutBefore arms n cuts: each of the next n connections that sends a call
// whose text contains marker (say "sharedlog_commit(") is closed without
// forwarding it, so that the server never runs the call.
func (p *Proxy) CutBefore(marker string, n int) {
	p.setMarker(marker)
	p.before.Store(int32(n))
}

// CutAfter arms n cuts: each of the next n connections that sends a call
// whose text contains marker has it forwarded, then stops getting the server's
// answers and is closed HoldAfter later: the server runs the call (and
// commits it), the client never hears how it went.
func (p *Proxy) CutAfter(marker string, n int) {
	p.setMarker(marker)
	p.after.Store(int32(n))
}

// Cuts is the number of connections cut by CutBefore and CutAfter so far
// (a CutAfter cut counts once its connection is closed).
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

func (p *Proxy) setMarker(m string) {
	p.mu.Lock()
	p.marker = []byte(m)
	p.mu.Unlock()
}

// track adds c to the open connections, or reports false when cut.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		client.Close()
		server.Close()
		return
	}
	var drop atomic.Bool // stop forwarding the server's answers
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !drop.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		client.Close()
	}()
	defer func() {
		p.untrack(client, server)
		<-done
	}()
	var scan wireScanner
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.mu.Lock()
			marker := p.marker
			p.mu.Unlock()
			if scan.feed(chunk, marker) {
				if p.before.Load() > 0 && p.before.Add(-1) >= 0 {
					p.cuts.Add(1)
					return
				}
				if p.after.Load() > 0 && p.after.Add(-1) >= 0 {
					drop.Store(true)
					server.Write(chunk)
					// The rest of the call (its Execute, Sync) may
					// come in the next writes: forward them too.
					client.SetReadDeadline(time.Now().Add(HoldAfter))
					for {
						n, err := client.Read(buf)
						if n > 0 {
							server.Write(buf[:n])
						}
						if err != nil {
							break
						}
					}
					p.cuts.Add(1)
					return
				}
			}
			if _, werr := server.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
