package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Index file constants; see format.go. Magics never change.
const (
	indexHeaderSize   = 20
	indexVersion      = 1
	offsetEntrySize   = 8
	timeEntrySize     = 12
	offsetIndexMagic  = "SLOI"
	timeIndexMagic    = "SLTI"
	defaultIndexBytes = 4096
)

// indexEntry is one entry of both indexes: the batch that starts at pos has
// base offset segBase+rel, and every record before it has a timestamp <= ts.
type indexEntry struct {
	rel uint32
	pos uint32
	ts  int64
}

// indexBuilder decides where index entries go as batches are appended, the
// same way for appends, recovery scans and compaction.
type indexBuilder struct {
	interval   int64
	entries    []indexEntry
	sinceEntry int64 // bytes appended since the last entry's batch
	maxTs      int64 // largest timestamp so far; math.MinInt64 when empty
	size       int64 // bytes covered
}

func newIndexBuilder(interval int) *indexBuilder {
	return &indexBuilder{interval: int64(interval), maxTs: math.MinInt64}
}

// add records a batch of length bytes at pos (which must be b.size).
func (b *indexBuilder) add(segBase int64, h batchHeader, pos int64) {
	if pos > 0 && b.sinceEntry >= b.interval {
		b.entries = append(b.entries, indexEntry{rel: uint32(h.BaseOffset - segBase), pos: uint32(pos), ts: b.maxTs})
		b.sinceEntry = 0
	}
	b.sinceEntry += h.size()
	b.maxTs = max(b.maxTs, h.MaxTimestamp)
	b.size = pos + h.size()
}

// lookupOffset returns the position of the last indexed batch whose base
// offset is <= off, and that base offset; (0, segBase) when none is.
func lookupOffset(entries []indexEntry, segBase, off int64) (pos int64, base int64) {
	if off < segBase {
		return 0, segBase
	}
	rel := off - segBase
	i, _ := slices.BinarySearchFunc(entries, rel, func(e indexEntry, t int64) int {
		switch {
		case int64(e.rel) <= t:
			return -1
		default:
			return 1
		}
	})
	// i is the first entry with rel > target.
	if i == 0 {
		return 0, segBase
	}
	e := entries[i-1]
	return int64(e.pos), segBase + int64(e.rel)
}

// lookupTime returns the offset and position of the last indexed batch
// before which every record's timestamp is < ts; (0, segBase) when none.
func lookupTime(entries []indexEntry, segBase, ts int64) (pos int64, base int64) {
	i, _ := slices.BinarySearchFunc(entries, ts, func(e indexEntry, t int64) int {
		if e.ts < t {
			return -1
		}
		return 1
	})
	if i == 0 {
		return 0, segBase
	}
	e := entries[i-1]
	return int64(e.pos), segBase + int64(e.rel)
}

func appendIndexHeader(dst []byte, magic string, entrySize int, base int64) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint16(dst, indexVersion)
	dst = binary.BigEndian.AppendUint16(dst, uint16(entrySize))
	dst = binary.BigEndian.AppendUint64(dst, uint64(base))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// encodeOffsetIndex returns the .index file for entries.
func encodeOffsetIndex(base int64, entries []indexEntry) []byte {
	b := appendIndexHeader(make([]byte, 0, indexHeaderSize+offsetEntrySize*len(entries)), offsetIndexMagic, offsetEntrySize, base)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	return b
}

// encodeTimeIndex returns the .timeindex file for entries.
func encodeTimeIndex(base int64, entries []indexEntry) []byte {
	b := appendIndexHeader(make([]byte, 0, indexHeaderSize+timeEntrySize*len(entries)), timeIndexMagic, timeEntrySize, base)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	return b
}

func checkIndexHeader(b []byte, magic string, entrySize int, base int64) error {
	if len(b) < indexHeaderSize {
		return corruptf("index is %d bytes, shorter than its %d-byte header", len(b), indexHeaderSize)
	}
	be := binary.BigEndian
	switch {
	case string(b[:4]) != magic:
		return corruptf("index magic is %q, want %q", b[:4], magic)
	case crc32.Checksum(b[:16], crcTable) != be.Uint32(b[16:]):
		return corruptf("index header crc mismatch")
	case be.Uint16(b[4:]) != indexVersion:
		return corruptf("index version is %d, want %d", be.Uint16(b[4:]), indexVersion)
	case int(be.Uint16(b[6:])) != entrySize:
		return corruptf("index entry size is %d, want %d", be.Uint16(b[6:]), entrySize)
	case int64(be.Uint64(b[8:])) != base:
		return corruptf("index base offset is %d, want %d", int64(be.Uint64(b[8:])), base)
	case (len(b)-indexHeaderSize)%entrySize != 0:
		return corruptf("index body of %d bytes is not a whole number of %d-byte entries", len(b)-indexHeaderSize, entrySize)
	}
	return nil
}

// decodeIndexes parses a segment's .index and .timeindex files and checks
// them against each other and the segment's size: same length, the same
// batches, offsets and positions strictly increasing within the segment,
// timestamps not decreasing. Any failure is ErrCorrupt: the caller rebuilds.
func decodeIndexes(offsetFile, timeFile []byte, base, segSize int64) ([]indexEntry, error) {
	if err := checkIndexHeader(offsetFile, offsetIndexMagic, offsetEntrySize, base); err != nil {
		return nil, fmt.Errorf("offset %w", err)
	}
	if err := checkIndexHeader(timeFile, timeIndexMagic, timeEntrySize, base); err != nil {
		return nil, fmt.Errorf("time %w", err)
	}
	n := (len(offsetFile) - indexHeaderSize) / offsetEntrySize
	if nt := (len(timeFile) - indexHeaderSize) / timeEntrySize; nt != n {
		return nil, corruptf("offset index has %d entries, time index %d", n, nt)
	}
	be := binary.BigEndian
	entries := make([]indexEntry, n)
	for i := range entries {
		o := offsetFile[indexHeaderSize+i*offsetEntrySize:]
		t := timeFile[indexHeaderSize+i*timeEntrySize:]
		e := indexEntry{rel: be.Uint32(o), pos: be.Uint32(o[4:]), ts: int64(be.Uint64(t))}
		if trel := be.Uint32(t[8:]); trel != e.rel {
			return nil, corruptf("index entry %d: offset index says relative offset %d, time index %d", i, e.rel, trel)
		}
		if int64(e.pos) >= segSize {
			return nil, corruptf("index entry %d: position %d is beyond the segment's %d bytes", i, e.pos, segSize)
		}
		if i == 0 {
			if e.rel == 0 || e.pos == 0 {
				return nil, corruptf("index entry 0 points at the segment's start")
			}
		} else {
			p := entries[i-1]
			if e.rel <= p.rel || e.pos <= p.pos || e.ts < p.ts {
				return nil, corruptf("index entry %d (offset +%d, position %d, time %d) does not follow entry %d (+%d, %d, %d)",
					i, e.rel, e.pos, e.ts, i-1, p.rel, p.pos, p.ts)
			}
		}
		entries[i] = e
	}
	return entries, nil
}
