package pgsink

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// binaryTypes are the column types whose binary COPY encoding the direct
// Avro transcoder writes (fastavro.go); numeric(p,s) too.
var binaryTypes = map[string]bool{
	"boolean": true, "integer": true, "bigint": true, "real": true, "double precision": true,
	"text": true, "bytea": true, "date": true, "timestamp with time zone": true, "numeric": true,
}

func binaryType(pgType string) bool {
	return binaryTypes[pgType] || len(pgType) > 8 && pgType[:8] == "numeric(" && pgType != "numeric(20,0)"
}

// copyRows COPYs the rows of g into table ident, whose column types are
// target: in PostgreSQL's binary format straight from the rows' encoded
// columns when every row has them and every column of the table has the
// type they were encoded for, else through pgx's encoding of the rows'
// values.
func (t *tableState) copyRows(ctx context.Context, tx pgx.Tx, ident string, g *group, target map[string]string) error {
	if binaryOK(g, target) {
		st := &copyStream{g: g, buf: t.copyBuf[:0]}
		_, err := tx.Conn().PgConn().CopyFrom(ctx, st, "COPY "+ident+" ("+quoted(names(g.cols))+") FROM STDIN (FORMAT binary)")
		t.copyBuf = st.buf[:0] // the next batch's
		return err
	}
	var name pgx.Identifier
	if ident == t.ident() {
		name = pgx.Identifier{t.schema, t.name}
	} else {
		name = pgx.Identifier{ident}
	}
	_, err := tx.CopyFrom(ctx, name, names(g.cols), &rowSource{rows: g.rows})
	return err
}

// binaryOK reports whether the rows of g can be COPYed in binary from
// their encoded columns: every row has them and every column of the table
// has the type they were encoded for. The rows of a group share column
// names, not types: a row of another schema version may have encoded a
// column as a type it was promoted to (an Avro int become a long or a
// float), which is checked against the table's, once per layout met.
func binaryOK(g *group, target map[string]string) bool {
	fits := func(l *layout) bool {
		for _, c := range l.cols {
			if target[c.name] != c.pgType || !binaryType(c.pgType) {
				return false
			}
		}
		return true
	}
	if !fits(g.layout) {
		return false
	}
	last := g.layout
	for _, r := range g.rows {
		if r.key != nil && r.key.enc == nil || r.val != nil && r.val.enc == nil {
			return false
		}
		if r.l != last {
			if !fits(r.l) {
				return false
			}
			last = r.l
		}
	}
	return true
}

// copyStream reads as the binary COPY stream of g's rows, laid out a
// read at a time (pgx reads 64 kB): PostgreSQL works on the first rows
// while the next ones are laid out.
type copyStream struct {
	g            *group
	next         int    // the next row to lay out
	buf          []byte // laid out; buf[off:] not read yet
	off          int
	koffs, voffs []int
	started      bool
	done         bool // the trailer is in buf
}

func (s *copyStream) Read(p []byte) (int, error) {
	if s.off == len(s.buf) {
		if s.done {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		if !s.started {
			s.buf = appendCopyHeader(s.buf)
			s.started = true
		}
		for len(s.buf) < len(p) && s.next < len(s.g.rows) {
			var ok bool
			if s.buf, ok = appendCopyRow(s.buf, s.g.rows[s.next], &s.koffs, &s.voffs); !ok {
				return 0, fmt.Errorf("binary COPY: the encoded fields of row %d do not match its columns", s.next)
			}
			s.next++
		}
		if s.next == len(s.g.rows) && len(s.buf) < len(p) {
			s.buf = binary.BigEndian.AppendUint16(s.buf, 0xffff) // the trailer: -1
			s.done = true
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// binaryCopy lays out the rows of g as a whole binary COPY stream, in
// dst's memory when it is large enough, or reports that it cannot (see
// binaryOK).
func binaryCopy(g *group, target map[string]string, dst []byte) ([]byte, bool) {
	if !binaryOK(g, target) {
		return nil, false
	}
	buf := appendCopyHeader(dst[:0])
	var koffs, voffs []int
	for _, r := range g.rows {
		var ok bool
		if buf, ok = appendCopyRow(buf, r, &koffs, &voffs); !ok {
			return nil, false
		}
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff), true // the trailer: -1
}

// appendCopyHeader appends the binary COPY header.
func appendCopyHeader(buf []byte) []byte {
	buf = append(buf, "PGCOPY\n\xff\r\n\x00"...)
	buf = binary.BigEndian.AppendUint32(buf, 0)  // flags
	return binary.BigEndian.AppendUint32(buf, 0) // header extension length
}

// appendCopyRow appends row r, its fields taken from its key's and value's
// encoded columns; false when those do not match their columns. koffs and
// voffs are scratch space.
func appendCopyRow(buf []byte, r row, koffs, voffs *[]int) ([]byte, bool) {
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(r.l.from)))
	if r.l.identity {
		return append(buf, r.val.enc...), true
	}
	var ok bool
	if *koffs, ok = fieldOffsets((*koffs)[:0], r.key); !ok {
		return buf, false
	}
	if *voffs, ok = fieldOffsets((*voffs)[:0], r.val); !ok {
		return buf, false
	}
	for _, f := range r.l.from {
		if f >= 0 {
			buf = append(buf, r.key.enc[(*koffs)[f]:(*koffs)[f+1]]...)
		} else {
			buf = append(buf, r.val.enc[(*voffs)[-f-1]:(*voffs)[-f]]...)
		}
	}
	return buf, true
}

// fieldOffsets appends to offs where each binary field of d.enc starts,
// then its end; false when the fields are not d's columns.
func fieldOffsets(offs []int, d *datum) ([]int, bool) {
	if d == nil {
		return offs, true
	}
	enc, pos := d.enc, 0
	offs = append(offs, 0)
	for pos < len(enc) {
		if len(enc)-pos < 4 {
			return offs, false
		}
		n := int32(binary.BigEndian.Uint32(enc[pos:]))
		pos += 4
		if n > 0 {
			pos += int(n)
		}
		offs = append(offs, pos)
	}
	return offs, pos == len(enc) && len(offs) == len(d.cols)+1
}
