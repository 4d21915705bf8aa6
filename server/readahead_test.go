//go:build unix

package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// readAheadPair is a connected pair: a read-ahead server side and a plain
// client side.
func readAheadPair(t *testing.T) (srv net.Conn, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ra := readAhead(ln)
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err = ra.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.(*readAheadConn); !ok {
		t.Fatalf("accepted a %T, want a *readAheadConn", srv)
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// TestReadAheadBytes: what the peer writes is read back byte for byte
// whatever the reader's read sizes, small reads are served from one system
// call's worth, and the end of the stream is io.EOF.
func TestReadAheadBytes(t *testing.T) {
	srv, cli := readAheadPair(t)
	want := make([]byte, 3*readAheadSize+12345)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		for b := want; len(b) > 0; {
			n := min(len(b), 9000)
			cli.Write(b[:n])
			b = b[n:]
		}
		cli.(*net.TCPConn).CloseWrite()
	}()
	var got []byte
	sizes := []int{9, 1, 16384, 5, readAheadSize, 70000, 3}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := srv.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
}

// TestReadAheadDeadline: a read deadline ends a read waiting for bytes
// with a timeout error, as on a plain connection (the HTTP server's idle
// and header timeouts rely on it); the connection reads on after it.
func TestReadAheadDeadline(t *testing.T) {
	srv, cli := readAheadPair(t)
	srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := srv.Read(make([]byte, 9))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	srv.SetReadDeadline(time.Time{})
	cli.Write([]byte("after"))
	p := make([]byte, 9)
	n, err := srv.Read(p)
	if err != nil || string(p[:n]) != "after" {
		t.Fatalf("read after the deadline: %q, %v", p[:n], err)
	}
}

// TestReadAheadClosed: closing the connection ends a read waiting on it.
func TestReadAheadClosed(t *testing.T) {
	srv, _ := readAheadPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := srv.Read(make([]byte, 9))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	srv.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v, want net.ErrClosed", err)
	}
}
