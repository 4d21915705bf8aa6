package shared

// The bytes of an intake object, wal/<node>/<id>: one flush of a node's
// intake buffer. Integers are big-endian.
//
//	off  size  field
//	  0     4  magic    "SLWO"; never change
//	  4     2  version  1
//	  6     2  flags    0
//	  8     …  batches  record batch v2 bytes exactly as the log's format.go
//	                    describes them, with baseOffset 0 (offsets are
//	                    assigned at commit and written in by readers; the
//	                    CRC does not cover baseOffset), back to back,
//	                    grouped into sections by partition in (topic id,
//	                    partition) order, arrival order within a section
//	  F     …  footer   u32 section count, then per section:
//	                      u16 topic id length, topic id bytes,
//	                      i32 partition, u32 batch count, then per batch:
//	                        u64 byte offset in the object, u32 length,
//	                        u32 record count (lastOffsetDelta + 1),
//	                        i64 max timestamp, i64 producer id,
//	                        i16 producer epoch, i32 base sequence
//	end-20 20  trailer  u64 F, u32 footer length, u32 CRC-32C of the
//	                    footer, magic "SLWF"
//
// Readers use the batch coordinates in PostgreSQL, not the footer: the
// footer makes an object self-describing, for the compactor, for repair
// and for inspection. Objects are immutable once PUT.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/sluicehq/sluice/broker/internal/log"
)

const (
	objectMagic   = "SLWO"
	trailerMagic  = "SLWF"
	objectVersion = 1
	objectHeader  = 8
	objectTrailer = 20
	footerSection = 2 + 4 + 4 // before the topic id: u16; after: i32 + u32
	footerBatch   = 8 + 4 + 4 + 8 + 8 + 2 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptObject marks every error about an object's bytes.
var ErrCorruptObject = errors.New("corrupt shared log object")

// objectBatch is one batch of an object, as its footer describes it.
type objectBatch struct {
	Topic         string
	Partition     int32
	Off, Len      int64
	Count         int32
	MaxTimestamp  int64
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	// Kind is what the batch is to transactions (kindPlain, ...); only the
	// commit uses it, the object does not store it.
	Kind int16
}

// objectWriter builds an object: the caller adds batches section by
// section (all of one partition together), then finishes it.
type objectWriter struct {
	buf     []byte
	batches []objectBatch
}

func newObjectWriter(sizeHint int) *objectWriter {
	w := &objectWriter{buf: make([]byte, 0, sizeHint+objectHeader+objectTrailer+256)}
	w.buf = append(w.buf, objectMagic...)
	w.buf = binary.BigEndian.AppendUint16(w.buf, objectVersion)
	w.buf = binary.BigEndian.AppendUint16(w.buf, 0)
	return w
}

// add appends one batch (its baseOffset is written as 0).
func (w *objectWriter) add(topic string, partition int32, b *log.Batch, kind int16) {
	off := len(w.buf)
	w.buf = append(w.buf, b.Bytes()...)
	binary.BigEndian.PutUint64(w.buf[off:], 0)
	w.batches = append(w.batches, objectBatch{
		Topic: topic, Partition: partition, Off: int64(off), Len: int64(b.Len()), Count: int32(b.Count()),
		MaxTimestamp: b.MaxTimestamp(), ProducerID: b.ProducerID(), ProducerEpoch: b.ProducerEpoch(), BaseSequence: b.BaseSequence(),
		Kind: kind,
	})
}

// finish appends the footer and trailer and returns the object's bytes.
func (w *objectWriter) finish() []byte {
	be := binary.BigEndian
	footerAt := len(w.buf)
	// Sections: runs of batches of one partition.
	nsec := 0
	need := 4 + len(w.batches)*footerBatch + objectTrailer
	for i := range w.batches {
		if i == 0 || w.batches[i].Topic != w.batches[i-1].Topic || w.batches[i].Partition != w.batches[i-1].Partition {
			nsec++
			need += footerSection + len(w.batches[i].Topic)
		}
	}
	if cap(w.buf)-len(w.buf) < need {
		// Grow once, to the size: append would double a merged segment's
		// 16 MiB for a footer of a few KiB.
		w.buf = append(make([]byte, 0, len(w.buf)+need), w.buf...)
	}
	w.buf = be.AppendUint32(w.buf, uint32(nsec))
	for i := 0; i < len(w.batches); {
		j := i
		for j < len(w.batches) && w.batches[j].Topic == w.batches[i].Topic && w.batches[j].Partition == w.batches[i].Partition {
			j++
		}
		w.buf = be.AppendUint16(w.buf, uint16(len(w.batches[i].Topic)))
		w.buf = append(w.buf, w.batches[i].Topic...)
		w.buf = be.AppendUint32(w.buf, uint32(w.batches[i].Partition))
		w.buf = be.AppendUint32(w.buf, uint32(j-i))
		for _, b := range w.batches[i:j] {
			w.buf = be.AppendUint64(w.buf, uint64(b.Off))
			w.buf = be.AppendUint32(w.buf, uint32(b.Len))
			w.buf = be.AppendUint32(w.buf, uint32(b.Count))
			w.buf = be.AppendUint64(w.buf, uint64(b.MaxTimestamp))
			w.buf = be.AppendUint64(w.buf, uint64(b.ProducerID))
			w.buf = be.AppendUint16(w.buf, uint16(b.ProducerEpoch))
			w.buf = be.AppendUint32(w.buf, uint32(b.BaseSequence))
		}
		i = j
	}
	footer := w.buf[footerAt:]
	crc := crc32.Checksum(footer, castagnoli)
	w.buf = be.AppendUint64(w.buf, uint64(footerAt))
	w.buf = be.AppendUint32(w.buf, uint32(len(footer)))
	w.buf = be.AppendUint32(w.buf, crc)
	w.buf = append(w.buf, trailerMagic...)
	return w.buf
}

func corruptObject(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptObject, fmt.Sprintf(format, args...))
}

// parseObject checks an object's header, trailer and footer and returns
// the batches its footer lists. Each batch's range must lie between the
// header and the footer, ranges must follow one another without overlap,
// and each must hold one record batch header whose length matches.
func parseObject(b []byte) ([]objectBatch, error) {
	be := binary.BigEndian
	if len(b) < objectHeader+objectTrailer {
		return nil, corruptObject("%d bytes is shorter than a header and a trailer", len(b))
	}
	if string(b[:4]) != objectMagic {
		return nil, corruptObject("magic %q, want %q", b[:4], objectMagic)
	}
	if v := be.Uint16(b[4:]); v != objectVersion {
		return nil, corruptObject("version %d, this binary reads %d", v, objectVersion)
	}
	t := b[len(b)-objectTrailer:]
	if string(t[16:]) != trailerMagic {
		return nil, corruptObject("trailer magic %q, want %q", t[16:], trailerMagic)
	}
	footerAt, footerLen := be.Uint64(t), uint64(be.Uint32(t[8:]))
	end := uint64(len(b) - objectTrailer)
	if footerAt < objectHeader || footerAt > end || end-footerAt != footerLen {
		return nil, corruptObject("footer at %d, %d bytes: does not end at the trailer (%d)", footerAt, footerLen, end)
	}
	footer := b[footerAt:end]
	if got := crc32.Checksum(footer, castagnoli); got != be.Uint32(t[12:]) {
		return nil, corruptObject("footer crc is %#08x, computed %#08x", be.Uint32(t[12:]), got)
	}
	d := footer
	need := func(n int, what string) error {
		if len(d) < n {
			return corruptObject("footer: %s needs %d bytes, %d left", what, n, len(d))
		}
		return nil
	}
	if err := need(4, "section count"); err != nil {
		return nil, err
	}
	nsec := be.Uint32(d)
	d = d[4:]
	if uint64(nsec) > uint64(len(d))/footerSection {
		return nil, corruptObject("footer: %d sections cannot fit in %d bytes", nsec, len(d))
	}
	var out []objectBatch
	next := int64(objectHeader)
	for s := range nsec {
		if err := need(2, "topic id length"); err != nil {
			return nil, err
		}
		tl := int(be.Uint16(d))
		d = d[2:]
		if err := need(tl+8, fmt.Sprintf("section %d", s)); err != nil {
			return nil, err
		}
		topic := string(d[:tl])
		part := int32(be.Uint32(d[tl:]))
		nb := be.Uint32(d[tl+4:])
		d = d[tl+8:]
		if part < 0 {
			return nil, corruptObject("footer: section %d: partition %d is negative", s, part)
		}
		if uint64(nb) > uint64(len(d))/footerBatch || nb == 0 {
			return nil, corruptObject("footer: section %d: %d batches do not fit in %d bytes", s, nb, len(d))
		}
		for i := range nb {
			x := objectBatch{
				Topic: topic, Partition: part,
				Off: int64(be.Uint64(d)), Len: int64(be.Uint32(d[8:])), Count: int32(be.Uint32(d[12:])),
				MaxTimestamp: int64(be.Uint64(d[16:])), ProducerID: int64(be.Uint64(d[24:])),
				ProducerEpoch: int16(be.Uint16(d[32:])), BaseSequence: int32(be.Uint32(d[34:])),
			}
			d = d[footerBatch:]
			if x.Off != next || x.Len < log.BatchHeaderSize || x.Off > int64(footerAt)-x.Len {
				return nil, corruptObject("footer: section %d batch %d: bytes [%d, +%d) do not follow %d inside the batch area [%d, %d)", s, i, x.Off, x.Len, next, objectHeader, footerAt)
			}
			h, ok := log.PeekBatch(b[x.Off : x.Off+x.Len])
			if !ok || h.Size != x.Len || h.Magic != 2 {
				return nil, corruptObject("footer: section %d batch %d at %d: the bytes are not a record batch of %d bytes", s, i, x.Off, x.Len)
			}
			if x.Count <= 0 || x.Count == math.MaxInt32 {
				return nil, corruptObject("footer: section %d batch %d: record count %d", s, i, x.Count)
			}
			next = x.Off + x.Len
			out = append(out, x)
		}
	}
	if len(d) != 0 {
		return nil, corruptObject("footer: %d bytes after the last section", len(d))
	}
	if next != int64(footerAt) {
		return nil, corruptObject("batches end at %d but the footer starts at %d", next, footerAt)
	}
	return out, nil
}
