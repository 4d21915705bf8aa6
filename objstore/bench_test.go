package objstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/objstore"
)

// BenchmarkDirPut: one durable Put (write, fsync, rename, fsync of the
// directory) of a 1 MiB and an 8 MiB object, new keys each time.
func BenchmarkDirPut(b *testing.B) {
	for _, size := range []int{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			d, err := objstore.NewDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if err := d.Put(ctx, fmt.Sprintf("wal/n1/%08d", i), data); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDirGetRange: reading a whole 1 MiB or 8 MiB object, and a
// 64 KiB range of the 8 MiB one (the page cache holds it: this is the
// store's own cost, not the disk's).
func BenchmarkDirGetRange(b *testing.B) {
	for _, c := range []struct {
		name    string
		size, n int64
	}{
		{"1MiB", 1 << 20, -1},
		{"8MiB", 8 << 20, -1},
		{"64KiBof8MiB", 8 << 20, 64 << 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, err := objstore.NewDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := d.Put(ctx, "obj", make([]byte, c.size)); err != nil {
				b.Fatal(err)
			}
			n := c.n
			if n < 0 {
				n = c.size
			}
			b.SetBytes(n)
			for b.Loop() {
				if _, err := d.GetRange(ctx, "obj", c.size-n, c.n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
