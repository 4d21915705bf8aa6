package kafka

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The stage tests serve DescribeQuorum (never served by Sluice) with a test
// handler whose behaviour the request's first topic name selects.
// testWaitRelease, when set, releases "block" waits when closed.
var testWaitRelease atomic.Pointer[chan struct{}]

func init() {
	register(kmsg.DescribeQuorum, 0, 0, func(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
		req := kreq.(*kmsg.DescribeQuorumRequest)
		resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
		mode := ""
		if len(req.Topics) > 0 {
			mode = req.Topics[0].Topic
		}
		switch mode {
		case "panic":
			panic("test panic")
		case "wait-panic":
			return nil, func() kmsg.Response { panic("test wait panic") }, nil
		case "silent":
			return nil, nil, nil
		case "block":
			// Answers when released or when the server drains.
			return nil, func() kmsg.Response {
				var release chan struct{}
				if p := testWaitRelease.Load(); p != nil {
					release = *p
				}
				select {
				case <-release:
				case <-c.Server().Draining():
				}
				return resp
			}, nil
		case "frame":
			return &frameResp{DescribeQuorumResponse: resp}, nil, nil
		case "slow":
			return nil, func() kmsg.Response { time.Sleep(20 * time.Millisecond); return resp }, nil
		}
		return resp, nil, nil
	})
}

func quorumReq(mode string) *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = mode
	req.Topics = append(req.Topics, t)
	return req
}

// TestStage2InOrder: slow waits followed by immediate answers still come back
// in request order, and a silent request (acks=0) sends nothing.
func TestStage2InOrder(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	modes := []string{"slow", "now", "silent", "slow", "now", "now", "slow", "silent", "now"}
	var frames []byte
	var want []int32
	for i, m := range modes {
		frames = appendRequest(frames, quorumReq(m), int32(i), nil)
		if m != "silent" {
			want = append(want, int32(i))
		}
	}
	if _, err := c.nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		corr, _, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if corr != w {
			t.Fatalf("got correlation id %d, want %d", corr, w)
		}
	}
}

// TestPanicClosesOnlyThatConnection: a panicking handler or wait closes its
// connection; the server keeps serving others.
func TestPanicClosesOnlyThatConnection(t *testing.T) {
	s, addr := newTestServer(t, Config{})
	for _, mode := range []string{"panic", "wait-panic"} {
		c := dialRaw(t, addr)
		c.send(quorumReq(mode), 1)
		c.expectClosed()
	}
	if n := s.panics.Swap(0); n != 2 {
		t.Fatalf("%d panics recovered, want 2", n)
	}
	c := dialRaw(t, addr)
	if resp := c.roundTrip(kmsg.NewPtrApiVersionsRequest(), 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("error %d", resp.ErrorCode)
	}
}

// TestShutdownAnswersInFlight: Shutdown ends a long wait through Draining
// and still writes its response before closing.
func TestShutdownAnswersInFlight(t *testing.T) {
	s, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	c.send(quorumReq("block"), 9)
	// Make sure the request reached stage 2 before shutting down.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		var n int
		for cc := range s.conns {
			n += len(cc.slots)
		}
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("request never in flight")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	corr, _, err := c.recv()
	if err != nil || corr != 9 {
		t.Fatalf("got %d, %v; want the in-flight response", corr, err)
	}
	c.expectClosed()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestIdleConnectionClosed: a connection with nothing in flight closes after
// IdleTimeout; one with a request in flight does not.
func TestIdleConnectionClosed(t *testing.T) {
	release := make(chan struct{})
	testWaitRelease.Store(&release)
	defer testWaitRelease.Store(nil)
	_, addr := newTestServer(t, Config{IdleTimeout: 50 * time.Millisecond})
	idle := dialRaw(t, addr)
	busy := dialRaw(t, addr)
	busy.send(quorumReq("block"), 3)
	idle.expectClosed()
	// busy is still open: its request answers once released.
	time.Sleep(150 * time.Millisecond)
	close(release)
	if corr, _, err := busy.recv(); err != nil || corr != 3 {
		t.Fatalf("busy connection: %d, %v", corr, err)
	}
}

// frameResp writes its own frame, as a sendfile Fetch response does.
type frameResp struct {
	*kmsg.DescribeQuorumResponse
}

var frameReleased atomic.Int32

func (r *frameResp) WriteFrame(nc net.Conn, header []byte) error {
	body := r.AppendTo(nil)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(header)+len(body)))
	frame = append(append(frame, header...), body...)
	// Two writes, as a header-then-file-range response would do.
	if _, err := nc.Write(frame[:len(frame)/2]); err != nil {
		return err
	}
	_, err := nc.Write(frame[len(frame)/2:])
	return err
}

func (r *frameResp) Release() { frameReleased.Add(1) }

// TestFrameWriter: a response implementing FrameWriter writes its own frame
// in order with the others, and is released once written.
func TestFrameWriter(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	before := frameReleased.Load()
	var frames []byte
	for i, m := range []string{"now", "frame", "slow", "frame"} {
		frames = appendRequest(frames, quorumReq(m), int32(i), nil)
	}
	if _, err := c.nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		corr, body, err := c.recv()
		if err != nil || corr != int32(i) {
			t.Fatalf("response %d: correlation id %d, %v", i, corr, err)
		}
		resp := kmsg.NewPtrDescribeQuorumResponse()
		if body, err = skipTags(body); err != nil { // the flexible header's tags
			t.Fatal(err)
		}
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}
	// Release follows the write, so it may trail the client's read a little.
	for deadline := time.Now().Add(10 * time.Second); frameReleased.Load()-before != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d releases, want 2", frameReleased.Load()-before)
		}
	}
}

// TestShutdownBetweenCheckAndDeadline: a Shutdown that lands between a
// connection's stop check and its next read deadline still stops it (the
// deadline Shutdown set was replaced by the idle one, so the connection
// read on until the idle timeout and Shutdown waited for its context).
func TestShutdownBetweenCheckAndDeadline(t *testing.T) {
	s, addr := newTestServer(t, Config{IdleTimeout: time.Hour})
	var turns atomic.Int32
	hook := func(c *Conn) {
		// Turn 1 reads the first request; turn 2 follows its answer.
		if turns.Add(1) == 2 {
			s.mu.Lock()
			s.shutdown = true
			s.mu.Unlock()
			c.stopReading()
		}
	}
	readLoopHook.Store(&hook)
	defer readLoopHook.Store(nil)
	c := dialRaw(t, addr)
	if resp := c.roundTrip(kmsg.NewPtrApiVersionsRequest(), 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("error %d", resp.ErrorCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after a stop between check and deadline: %v", err)
	}
	c.expectClosed()
}
