package pgtest

import (
	"bytes"
	"encoding/binary"
)

// Frontend message codes the proxy looks at (PostgreSQL protocol 3.0).
const (
	msgQuery = 'Q' // simple query: its text
	msgParse = 'P' // statement name, text, parameter types
	msgBind  = 'B' // portal name, statement name, parameters
	msgClose = 'C' // 'S' or 'P', then a name

	sslRequestCode    = 80877103
	gssencRequestCode = 80877104
	// maxWireMessage bounds a message the scanner buffers (the calls
	// marked in tests are far smaller); past it the scanner gives up.
	maxWireMessage = 64 << 20
)

// wireScanner follows what a client sends a PostgreSQL server, so that
// the proxy recognises a call by its text whichever way it is sent: a
// simple query holding the text, or a Bind of a statement whose Parse
// held it. With a statement cache (pgx's default) the text goes over the
// wire once per connection, in the Parse, and each later call is a Bind of
// the statement's name: matching the bytes of each write would see it
// once. The scanner keeps each prepared statement's text and checks it
// against the marker at each Bind.
//
// It gives up (raw) on anything it cannot follow (an encrypted session, a
// malformed length): the proxy then matches the marker in the raw bytes.
type wireScanner struct {
	pending []byte // bytes of a message not complete yet
	started bool   // the startup message is behind
	raw     bool
	stmts   map[string][]byte // statement name ("" unnamed) -> text
}

// feed consumes the next bytes the client sent and reports whether they
// complete a call whose text contains marker.
func (w *wireScanner) feed(chunk, marker []byte) bool {
	if w.raw {
		return len(marker) > 0 && bytes.Contains(chunk, marker)
	}
	w.pending = append(w.pending, chunk...)
	call := false
	for {
		if !w.started {
			// Untyped: length, then a code (protocol version or request).
			if len(w.pending) < 8 {
				break
			}
			n := binary.BigEndian.Uint32(w.pending)
			if n < 8 || n > 10000 {
				return w.giveUp(chunk, marker)
			}
			if code := binary.BigEndian.Uint32(w.pending[4:]); code == sslRequestCode || code == gssencRequestCode {
				// The answer (encrypt or not) is the server's; the
				// scanner cannot see it, so it stops here.
				return w.giveUp(chunk, marker)
			}
			if len(w.pending) < int(n) {
				break
			}
			w.pending = w.pending[n:]
			w.started = true
			continue
		}
		if len(w.pending) < 5 {
			break
		}
		n := binary.BigEndian.Uint32(w.pending[1:])
		if n < 4 || n > maxWireMessage {
			return w.giveUp(chunk, marker)
		}
		if len(w.pending) < 1+int(n) {
			break
		}
		if w.message(w.pending[0], w.pending[5:1+n], marker) {
			call = true
		}
		w.pending = w.pending[1+n:]
	}
	if len(w.pending) == 0 {
		w.pending = nil // do not keep a large chunk's array
	}
	return call
}

func (w *wireScanner) giveUp(chunk, marker []byte) bool {
	w.raw, w.pending, w.stmts = true, nil, nil
	return len(marker) > 0 && bytes.Contains(chunk, marker)
}

// message looks at one complete message.
func (w *wireScanner) message(typ byte, body, marker []byte) bool {
	switch typ {
	case msgQuery:
		return len(marker) > 0 && bytes.Contains(body, marker)
	case msgParse:
		name, rest, ok := cstring(body)
		text, _, ok2 := cstring(rest)
		if ok && ok2 {
			if w.stmts == nil {
				w.stmts = map[string][]byte{}
			}
			w.stmts[string(name)] = bytes.Clone(text)
		}
	case msgBind:
		_, rest, ok := cstring(body) // portal
		stmt, _, ok2 := cstring(rest)
		if ok && ok2 && len(marker) > 0 {
			return bytes.Contains(w.stmts[string(stmt)], marker)
		}
	case msgClose:
		if len(body) > 0 && body[0] == 'S' {
			if name, _, ok := cstring(body[1:]); ok {
				delete(w.stmts, string(name))
			}
		}
	}
	return false
}

// cstring splits a NUL-terminated string off b.
func cstring(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}
