package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compress encodes data under c the way Kafka clients do.
func compress(t testing.TB, c Codec, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case None:
		return bytes.Clone(data)
	case Gzip:
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case Snappy:
		return s2.EncodeSnappy(nil, data)
	case LZ4:
		w := lz4.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case Zstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	}
	return buf.Bytes()
}

// xerial frames data as snappy-java does, in blocks of blockSize.
func xerial(data []byte, blockSize int) []byte {
	out := append([]byte(nil), xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(data) > 0 {
		n := min(blockSize, len(data))
		blk := s2.EncodeSnappy(nil, data[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
		out = append(out, blk...)
		data = data[n:]
	}
	return out
}

func sample(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "record %d: some value that repeats a little %d;", i, i%7)
	}
	return b.Bytes()[:n]
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 1000, 300_000} {
		data := sample(n)
		cases := map[string][]byte{}
		for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
			cases[c.String()] = compress(t, c, data)
		}
		for name, src := range cases {
			c := map[string]Codec{"none": None, "gzip": Gzip, "snappy": Snappy, "lz4": LZ4, "zstd": Zstd}[name]
			got, err := Decompress([]byte("pre"), c, src, 1<<20)
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", name, n, err)
			}
			if !bytes.Equal(got, append([]byte("pre"), data...)) {
				t.Fatalf("%s, %d bytes: round trip differs", name, n)
			}
		}
		got, err := Decompress(nil, Snappy, xerial(data, 32<<10), 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("xerial snappy, %d bytes: %v", n, err)
		}
	}
}

// TestBombs: a few kilobytes that expand far beyond the limit are refused
// with ErrTooLarge, for every codec.
func TestBombs(t *testing.T) {
	t.Parallel()
	zeros := make([]byte, 8<<20)
	const limit = 1 << 20
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		src := compress(t, c, zeros)
		got, err := Decompress([]byte("x"), c, src, limit)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %d compressed bytes: err %v, want ErrTooLarge", c, len(src), err)
		}
		if string(got) != "x" {
			t.Errorf("%s: dst changed on error", c)
		}
	}
	if _, err := Decompress(nil, Snappy, xerial(zeros, 64<<10), limit); !errors.Is(err, ErrTooLarge) {
		t.Errorf("xerial: err %v, want ErrTooLarge", err)
	}
	// Exactly at the limit is fine.
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		if got, err := Decompress(nil, c, compress(t, c, zeros[:limit]), limit); err != nil || len(got) != limit {
			t.Errorf("%s at the limit: %d bytes, %v", c, len(got), err)
		}
	}
}

func TestCorruptAndUnknown(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		src := compress(t, c, sample(5000))
		for _, bad := range [][]byte{src[:len(src)/2], append([]byte{0xff, 0xfe}, src...)} {
			// A damaged length may also claim too much.
			if _, err := Decompress(nil, c, bad, 1<<20); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s: damaged input: err %v, want ErrCorrupt", c, err)
			}
		}
	}
	if _, err := Decompress(nil, 5, []byte("x"), 10); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("codec 5: %v", err)
	}
}

// FuzzDecompress: any input under any codec decodes or fails cleanly, never
// exceeds the limit, and what it yields round-trips through the encoder.
func FuzzDecompress(f *testing.F) {
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		f.Add(int8(c), compress(f, c, sample(300)))
	}
	f.Add(int8(Snappy), xerial(sample(3000), 1000))
	f.Add(int8(Gzip), []byte{})
	f.Fuzz(func(t *testing.T, codec int8, src []byte) {
		const limit = 64 << 10
		c := Codec(uint8(codec) % 5)
		got, err := Decompress(nil, c, src, limit)
		if len(got) > limit {
			t.Fatalf("%s: %d bytes out, limit %d", c, len(got), limit)
		}
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("%s: %d bytes returned with error %v", c, len(got), err)
			}
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: unexpected error class: %v", c, err)
			}
			return
		}
		again, err := Decompress(nil, c, compress(t, c, got), limit)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("%s: re-compressed output does not round-trip: %v", c, err)
		}
	})
}
