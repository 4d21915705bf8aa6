package client

import (
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// WholeMessages wraps hc so that every message a client or bidirectional
// stream sends reaches the HTTP transport in one piece.
//
// Why: connect-go writes a streamed message to the request body as two
// writes, its 5-byte envelope prefix and then its payload, and Go's HTTP/2
// transport turns each read of the body into a DATA frame and flushes it.
// A message so costs two frames, two write system calls on the client, and
// four reads and two trips through the server's connection loop (a frame
// header and a payload each). Unwrapped, nothing is wrong, only slower:
// `sluice bench produce --stream` and Pipelined producers send thousands of
// messages a second.
//
// Only requests whose body is a stream of enveloped messages (Connect
// streaming, gRPC and gRPC-Web content types, unknown length) are changed;
// their bytes are the same, only grouped differently into reads.
func WholeMessages(hc connect.HTTPClient) connect.HTTPClient { return wholeMessages{hc} }

type wholeMessages struct{ next connect.HTTPClient }

// Do sends req with its streamed body read a whole message at a time.
func (w wholeMessages) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 && envelopedBody(req.Header.Get("Content-Type")) {
		req.Body = &messageReader{r: req.Body}
	}
	return w.next.Do(req)
}

// envelopedBody says whether a request body of content type ct is a stream
// of length-prefixed messages (5-byte prefix: flags, big-endian length).
func envelopedBody(ct string) bool {
	return strings.HasPrefix(ct, "application/connect+") ||
		strings.HasPrefix(ct, "application/grpc")
}

// messageReader reads an enveloped stream so that a Read returns a whole
// message (prefix and payload) when p has room for it: it reads the prefix,
// then waits for the payload, which the writer sends right after it.
type messageReader struct {
	r      io.ReadCloser
	prefix [5]byte
	npre   int   // bytes of prefix read but not yet returned, at prefix[5-npre:]
	left   int64 // payload bytes of the current message not yet read
	err    error
}

// Read implements io.Reader.
func (m *messageReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	if m.left == 0 && m.npre == 0 {
		// At a message boundary: read the next prefix whole.
		if _, err := io.ReadFull(m.r, m.prefix[:]); err != nil {
			// io.EOF at a boundary is the stream's clean end; a prefix cut
			// short (io.ErrUnexpectedEOF) or a failed write ends it too.
			m.err = err
			return 0, err
		}
		m.npre = 5
		m.left = int64(binary.BigEndian.Uint32(m.prefix[1:]))
	}
	if m.npre > 0 {
		c := copy(p, m.prefix[5-m.npre:])
		m.npre -= c
		n += c
		p = p[c:]
	}
	if m.npre == 0 && m.left > 0 && len(p) > 0 {
		want := p[:min(int64(len(p)), m.left)]
		k, err := io.ReadFull(m.r, want)
		n += k
		m.left -= int64(k)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the body ended inside a message
			}
			m.err = err
			return n, nil // the bytes first; the error on the next Read
		}
	}
	return n, nil
}

// Close implements io.Closer.
func (m *messageReader) Close() error { return m.r.Close() }
