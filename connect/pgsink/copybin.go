package pgsink

import (
	"bytes"
	"context"
	"encoding/binary"

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
	if buf, ok := binaryCopy(g, target, t.copyBuf); ok {
		t.copyBuf = buf[:0] // the next batch's, once this COPY is done
		_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), "COPY "+ident+" ("+quoted(names(g.cols))+") FROM STDIN (FORMAT binary)")
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

// binaryCopy lays out the rows of g as a binary COPY stream, in dst's
// memory when it is large enough, or reports that it cannot (a row
// without encoded columns, a column whose type in the table is not the one
// encoded).
func binaryCopy(g *group, target map[string]string, dst []byte) ([]byte, bool) {
	for _, c := range g.cols {
		if target[c.name] != c.pgType || !binaryType(c.pgType) {
			return nil, false
		}
	}
	size := 21
	for _, r := range g.rows {
		if r.key != nil && r.key.enc == nil || r.val != nil && r.val.enc == nil {
			return nil, false
		}
		size += 2 + len(r.val.enc)
		if r.key != nil {
			size += len(r.key.enc)
		}
	}
	buf := dst[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = append(buf, "PGCOPY\n\xff\r\n\x00"...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags
	buf = binary.BigEndian.AppendUint32(buf, 0) // header extension length
	var koffs, voffs []int
	for _, r := range g.rows {
		if r.l.identity {
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(r.l.from)))
			buf = append(buf, r.val.enc...)
			continue
		}
		var ok bool
		if koffs, ok = fieldOffsets(koffs[:0], r.key); !ok {
			return nil, false
		}
		if voffs, ok = fieldOffsets(voffs[:0], r.val); !ok {
			return nil, false
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(r.l.from)))
		for _, f := range r.l.from {
			if f >= 0 {
				buf = append(buf, r.key.enc[koffs[f]:koffs[f+1]]...)
			} else {
				buf = append(buf, r.val.enc[voffs[-f-1]:voffs[-f]]...)
			}
		}
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff), true // the trailer: -1
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
