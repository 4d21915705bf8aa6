// Package compression decompresses the record payload of Kafka record
// batches: gzip, snappy (raw blocks, and the xerial framing the Java client
// writes), lz4 (frame format) and zstd, the codecs of attribute bits 0-2.
//
// Every decompression is bounded: output beyond the caller's limit stops
// the decoder and returns ErrTooLarge, so that a small hostile batch cannot
// make the broker allocate without bound (a "decompression bomb"). Memory
// is grown as output arrives, never sized from a length the input claims
// beyond the limit.
package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is a Kafka compression codec: attribute bits 0-2 of a record batch.
type Codec int8

// Codecs, as Kafka numbers them; never change.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// String names the codec as Kafka's compression.type does.
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// ErrTooLarge is returned (wrapped with the codec and limit) when the
// decompressed data would exceed the limit.
var ErrTooLarge = errors.New("decompressed data exceeds the limit")

// ErrUnknownCodec is returned for a codec number Kafka does not define.
var ErrUnknownCodec = errors.New("unknown compression codec")

// ErrCorrupt is returned (wrapped with the decoder's reason) for input the
// codec cannot decode.
var ErrCorrupt = errors.New("corrupt compressed data")

// Decompress appends the decompression of src under codec c to dst and
// returns it. At most limit bytes are appended: more is ErrTooLarge. None
// copies src. Safe for concurrent use.
func Decompress(dst []byte, c Codec, src []byte, limit int) ([]byte, error) {
	var err error
	start := len(dst)
	switch c {
	case None:
		if len(src) > limit {
			return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), limit)
		}
		return append(dst, src...), nil
	case Gzip:
		dst, err = gunzip(dst, src, limit)
	case Snappy:
		dst, err = unsnappy(dst, src, limit)
	case LZ4:
		dst, err = unlz4(dst, src, limit)
	case Zstd:
		dst, err = unzstd(dst, src, limit)
	default:
		return dst, fmt.Errorf("%w %d (known: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)", ErrUnknownCodec, int8(c))
	}
	if err != nil {
		if !errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, c, err)
		} else {
			err = fmt.Errorf("%s: %w (limit %d bytes)", c, ErrTooLarge, limit)
		}
		return dst[:start], err
	}
	return dst, nil
}

// readLimited appends everything r yields to dst, failing with ErrTooLarge
// past limit bytes. sizeHint guesses the output size.
func readLimited(dst []byte, r io.Reader, limit, sizeHint int) ([]byte, error) {
	start := len(dst)
	if free := cap(dst) - len(dst); free < sizeHint {
		dst = append(dst, make([]byte, min(sizeHint, limit+1))...)[:start]
	}
	for {
		if len(dst) == cap(dst) {
			if len(dst)-start > limit {
				return dst, ErrTooLarge
			}
			// Grow by doubling what was decoded, capped one past the limit.
			grow := min(max(len(dst)-start, 4096), limit+1-(len(dst)-start))
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

var gzipReaders sync.Pool // *gzip.Reader

func gunzip(dst, src []byte, limit int) ([]byte, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = r.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, err
	}
	defer gzipReaders.Put(r)
	return readLimited(dst, r, limit, 4*len(src))
}

var lz4Readers = sync.Pool{New: func() any { return lz4.NewReader(nil) }}

func unlz4(dst, src []byte, limit int) ([]byte, error) {
	r := lz4Readers.Get().(*lz4.Reader)
	r.Reset(bytes.NewReader(src))
	defer lz4Readers.Put(r)
	return readLimited(dst, r, limit, 4*len(src))
}

// zstdReaders hold streaming decoders: a stream's output is read through
// readLimited, so no frame header can make the decoder allocate the whole
// claimed size up front.
var zstdReaders sync.Pool // *zstd.Decoder

// zstdMaxWindow bounds the window a frame may ask for (the decoder's
// history buffer), like Kafka's and kgo's defaults.
const zstdMaxWindow = 8 << 20

func unzstd(dst, src []byte, limit int) ([]byte, error) {
	d, _ := zstdReaders.Get().(*zstd.Decoder)
	var err error
	if d == nil {
		d, err = zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
	} else {
		err = d.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, err
	}
	defer func() {
		_ = d.Reset(nil) // let go of src
		zstdReaders.Put(d)
	}()
	return readLimited(dst, d, limit, 4*len(src))
}

// xerialHeader starts a snappy stream in the xerial framing (snappy-java's
// SnappyOutputStream), which the Java client writes: the magic, then a
// version and a compatible version, then blocks of a 4-byte big-endian
// length and a raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(dst, src, limit, len(dst))
	}
	if len(src) < xerialHeaderLen {
		return dst, fmt.Errorf("xerial header needs %d bytes, have %d", xerialHeaderLen, len(src))
	}
	start := len(dst)
	rest := src[xerialHeaderLen:]
	for i := 0; len(rest) > 0; i++ {
		if len(rest) < 4 {
			return dst, fmt.Errorf("xerial block %d: length needs 4 bytes, have %d", i, len(rest))
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return dst, fmt.Errorf("xerial block %d: length %d runs past the %d bytes left", i, n, len(rest))
		}
		var err error
		if dst, err = snappyBlock(dst, rest[:n], limit, start); err != nil {
			return dst, fmt.Errorf("xerial block %d: %w", i, err)
		}
		rest = rest[n:]
	}
	return dst, nil
}

// snappyBlock appends the decoding of one raw snappy block to dst, whose
// output so far (since start) counts against limit.
func snappyBlock(dst, block []byte, limit, start int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return dst, err
	}
	if n > limit-(len(dst)-start) {
		return dst, ErrTooLarge
	}
	at := len(dst)
	dst = append(dst, make([]byte, n)...)
	out, err := s2.Decode(dst[at:], block)
	if err != nil {
		return dst[:at], err
	}
	if len(out) != n || (n > 0 && &out[0] != &dst[at]) {
		return dst[:at], errors.New("snappy block decoded to an unexpected size")
	}
	return dst, nil
}
