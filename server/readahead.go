//go:build unix

package server

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// readAheadSize is the most one read system call of a connection takes
// from the kernel: a 64-record Connect produce request of 1 KiB records,
// frames and all.
const readAheadSize = 128 << 10

// readAheadBufs holds the buffers of connections that have bytes read ahead;
// a connection holds one only until its reader has taken them.
var readAheadBufs = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// readAhead returns ln with its TCP connections' reads going through a
// read-ahead buffer.
//
// Why: Go's HTTP/2 server reads each frame from the connection with two
// reads, its 9-byte header and then its payload, and each is a system call.
// A produce request is a HEADERS or DATA frame or two, plus the flow-control
// frames around it: about four reads. Through the buffer one read takes
// everything the kernel holds for the connection (up to readAheadSize), and
// the frames are then cut from memory.
//
// An idle connection holds no buffer: it waits for bytes on its raw file
// descriptor, and takes a pooled buffer only to read them.
func readAhead(ln net.Listener) net.Listener { return readAheadListener{ln} }

type readAheadListener struct{ net.Listener }

// Accept returns the next connection, reading ahead when it is a TCP one.
func (l readAheadListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &readAheadConn{Conn: tc, tcp: tc, raw: raw}, nil
}

// readAheadConn is a TCP connection read through a pooled buffer.
type readAheadConn struct {
	net.Conn
	tcp  *net.TCPConn
	raw  syscall.RawConn
	buf  *[]byte // nil when nothing is read ahead
	r, w int     // unread bytes: (*buf)[r:w]
}

// Read implements net.Conn.
func (c *readAheadConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.buf == nil {
		if len(p) >= readAheadSize {
			return c.Conn.Read(p) // as large as the buffer: nothing to gain
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		readAheadBufs.Put(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
	return n, nil
}

// fill waits until the connection is readable (or its read deadline
// passes) and reads what the kernel holds into a pooled buffer.
func (c *readAheadConn) fill() error {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		b := readAheadBufs.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			readAheadBufs.Put(b)
			return false // wait for bytes, holding no buffer
		}
		if rerr != nil || n <= 0 {
			readAheadBufs.Put(b)
			return true
		}
		c.buf, c.r, c.w = b, 0, n
		return true
	})
	switch {
	case err != nil: // closed, or the read deadline passed
		return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case rerr != nil:
		return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case n == 0:
		return io.EOF
	}
	return nil
}

// CloseWrite shuts the sending side, as *net.TCPConn's (the HTTP/1.1
// server uses it to close a connection gracefully).
func (c *readAheadConn) CloseWrite() error { return c.tcp.CloseWrite() }
