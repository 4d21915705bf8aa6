package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metadb"
)

// newTestServer runs a Server over a fresh broker on 127.0.0.1:0.
func newTestServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(context.Background(), broker.Config{DB: db, DataDir: dir, Fsync: mustFsync(t, "never"), GroupTickInterval: -1, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Broker = b
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Advertise(ln); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
		b.Close()
		db.Close()
		if n := s.panics.Load(); n != 0 {
			t.Errorf("%d panics recovered", n)
		}
	})
	return s, ln.Addr().String()
}

func mustFsync(t testing.TB, s string) broker.FsyncPolicy {
	p, err := broker.ParseFsyncPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rawConn is a hand-driven client connection.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t, nc}
}

// send writes req as a frame with correlation id corr and client id "test".
func (r *rawConn) send(req kmsg.Request, corr int32) {
	r.t.Helper()
	frame := appendRequest(nil, req, corr, kmsg.StringPtr("test"))
	if _, err := r.nc.Write(frame); err != nil {
		r.t.Fatal(err)
	}
}

// appendRequest encodes a request frame as a client would.
func appendRequest(dst []byte, req kmsg.Request, corr int32, clientID *string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if clientID == nil {
		dst = binary.BigEndian.AppendUint16(dst, 0xffff)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(*clientID)))
		dst = append(dst, *clientID...)
	}
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// recv reads one response frame and returns its correlation id and the rest.
func (r *rawConn) recv() (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r.nc, size[:]); err != nil {
		return 0, nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.nc, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// roundTrip sends req and decodes the response into resp (whose version is
// set from req unless already set).
func (r *rawConn) roundTrip(req kmsg.Request, corr int32) kmsg.Response {
	r.t.Helper()
	r.send(req, corr)
	got, body, err := r.recv()
	if err != nil {
		r.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	if got != corr {
		r.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		if body, err = skipTags(body); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// expectClosed checks that the server closes the connection without
// answering.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	if _, _, err := r.recv(); err == nil {
		r.t.Fatal("got a response; want the connection closed")
	}
}

func TestApiVersionsVersions(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	for _, v := range []int16{0, 3, 4} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-test", "1.0"
		resp := c.roundTrip(req, int32(v)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		if !hasKey(resp.ApiKeys, 18, 0, 4) {
			t.Fatalf("v%d: ApiVersions 0-4 not advertised: %+v", v, resp.ApiKeys)
		}
	}
	// v3 with a software name Kafka refuses.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "bad name!", "1"
	if resp := c.roundTrip(req, 7).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("bad software name: error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

func TestApiVersionsUnknownVersion(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	// v99: a header v2 (flexible) request with a body the server cannot know.
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 5, 0, 0, 0, 0xde, 0xad}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	corr, body, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	if corr != 5 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("v0 body: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || !hasKey(resp.ApiKeys, 18, 0, 4) {
		t.Fatalf("got error %d keys %+v; want UNSUPPORTED_VERSION and the key list", resp.ErrorCode, resp.ApiKeys)
	}
	// The connection stays usable.
	req := kmsg.NewPtrApiVersionsRequest()
	if resp := c.roundTrip(req, 6).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("after v99: error %d", resp.ErrorCode)
	}
}

func hasKey(keys []kmsg.ApiVersionsResponseApiKey, key, lo, hi int16) bool {
	for _, k := range keys {
		if k.ApiKey == key {
			return k.MinVersion == lo && k.MaxVersion == hi
		}
	}
	return false
}

func TestConnClosesOnBadFrames(t *testing.T) {
	_, addr := newTestServer(t, Config{MaxRequestBytes: 1 << 20})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"over the size limit", []byte{0, 0x20, 0, 0}},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xff}},
		{"short header", []byte{0, 0, 0, 3, 0, 18, 0}},
		{"unknown key", []byte{0, 0, 0, 10, 0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}},
		{"unsupported version of a served key", []byte{0, 0, 0, 10, 0, 3, 0x7f, 0, 0, 0, 0, 1, 0xff, 0xff}},
		{"bad client id length", []byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff}},
		{"truncated body", []byte{0, 0, 0, 11, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if _, err := c.nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			c.expectClosed()
		})
	}
}

// TestPipelinedInOrder sends many requests without waiting and checks the
// answers come back in order.
func TestPipelinedInOrder(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	var frames []byte
	for i := range 50 {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = int16(i % 4)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "x", "1"
		frames = appendRequest(frames, req, int32(i), nil)
	}
	if _, err := c.nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		corr, _, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
}
