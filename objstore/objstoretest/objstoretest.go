// Package objstoretest is the conformance suite of objstore.Store: every
// implementation (the directory, S3, the fault decorator without faults)
// passes Run.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/objstore"
)

// Run runs the suite. newStore returns a new, empty store for one subtest.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		s := newStore(t)
		data := payload(1, 1000)
		mustPut(t, s, "a/b/c", data)
		got := mustGet(t, s, "a/b/c", 0, -1)
		if !bytes.Equal(got, data) {
			t.Fatalf("GetRange whole object: got %d bytes, want the %d put", len(got), len(data))
		}
	})
	t.Run("Ranges", func(t *testing.T) {
		s := newStore(t)
		data := payload(2, 100)
		mustPut(t, s, "r", data)
		for _, c := range []struct {
			off, n int64
			want   []byte
		}{
			{0, 10, data[:10]},
			{10, 20, data[10:30]},
			{90, 10, data[90:]},
			{90, 50, data[90:]}, // cut at the end
			{95, -1, data[95:]},
			{0, -1, data},
			{0, 0, nil},
			{100, -1, nil}, // at the end: empty
			{100, 5, nil},
			{99, 1, data[99:]},
		} {
			got := mustGet(t, s, "r", c.off, c.n)
			if !bytes.Equal(got, c.want) {
				t.Errorf("GetRange(off %d, n %d) = %d bytes %x…, want %d bytes", c.off, c.n, len(got), head(got), len(c.want))
			}
		}
		_, err := s.GetRange(ctx, "r", 101, 1)
		var re *objstore.RangeError
		if !errors.As(err, &re) || re.Off != 101 || re.Size != 100 {
			t.Errorf("GetRange beyond the end: got %v, want a *RangeError{Off: 101, Size: 100}", err)
		}
		if _, err := s.GetRange(ctx, "r", -1, 1); err == nil {
			t.Errorf("GetRange at a negative offset: no error")
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "empty", nil)
		if got := mustGet(t, s, "empty", 0, -1); len(got) != 0 {
			t.Fatalf("empty object: got %d bytes", len(got))
		}
		objs := mustList(t, s, "")
		if len(objs) != 1 || objs[0] != (objstore.Object{Key: "empty", Size: 0}) {
			t.Fatalf("List = %v, want [{empty 0}]", objs)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"missing", "dir/missing"} {
			_, err := s.GetRange(ctx, key, 0, -1)
			var nf *objstore.NotFoundError
			if !errors.As(err, &nf) || nf.Key != key || !errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("GetRange(%q) of a missing object: got %v, want a *NotFoundError naming it", key, err)
			}
			if _, err := s.GetRange(ctx, key, 0, 0); !errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("GetRange(%q, n 0) of a missing object: got %v, want ErrNotFound", key, err)
			}
		}
		mustPut(t, s, "dir/present", []byte("x"))
		if _, err := s.GetRange(ctx, "dir", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("GetRange of a prefix of keys: got %v, want ErrNotFound", err)
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "k", payload(3, 500))
		second := payload(4, 200)
		mustPut(t, s, "k", second)
		if got := mustGet(t, s, "k", 0, -1); !bytes.Equal(got, second) {
			t.Fatalf("after overwrite: got %d bytes, want the second object's %d", len(got), len(second))
		}
		if objs := mustList(t, s, "k"); len(objs) != 1 || objs[0].Size != 200 {
			t.Fatalf("List after overwrite = %v, want one object of 200 bytes", objs)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "x/y/z", []byte("hello"))
		mustPut(t, s, "x/keep", []byte("kept"))
		if err := s.Delete(ctx, "x/y/z"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.GetRange(ctx, "x/y/z", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("GetRange after Delete: got %v, want ErrNotFound", err)
		}
		for _, key := range []string{"x/y/z", "never/was", "x/y"} {
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("Delete(%q) of a missing object: %v, want nil", key, err)
			}
		}
		if got := mustList(t, s, ""); !slices.Equal(got, []objstore.Object{{Key: "x/keep", Size: 4}}) {
			t.Errorf("List after Delete = %v, want [{x/keep 4}]", got)
		}
		// The key can be written again after its directory was emptied.
		mustPut(t, s, "x/y/z", []byte("again"))
		if got := mustGet(t, s, "x/y/z", 0, -1); string(got) != "again" {
			t.Errorf("after Delete and Put: got %q", got)
		}
	})
	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		keys := []string{"wal/n1/0002", "wal/n1/0001", "wal/n2/0001", "wal-x", "seg/t/0/00", "walrus/a", "w"}
		for i, k := range keys {
			mustPut(t, s, k, payload(uint64(i), i+1))
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"seg/t/0/00", "w", "wal-x", "wal/n1/0001", "wal/n1/0002", "wal/n2/0001", "walrus/a"}},
			{"wal/", []string{"wal/n1/0001", "wal/n1/0002", "wal/n2/0001"}},
			{"wal", []string{"wal-x", "wal/n1/0001", "wal/n1/0002", "wal/n2/0001", "walrus/a"}},
			{"wal/n1/", []string{"wal/n1/0001", "wal/n1/0002"}},
			{"wal/n", []string{"wal/n1/0001", "wal/n1/0002", "wal/n2/0001"}},
			{"wal/n1/0002", []string{"wal/n1/0002"}},
			{"wal/n1/0002/", nil},
			{"nothing/", nil},
			{"seg/t/0/0", []string{"seg/t/0/00"}},
		} {
			objs := mustList(t, s, c.prefix)
			var got []string
			for _, o := range objs {
				got = append(got, o.Key)
				if want := int64(slices.Index(keys, o.Key) + 1); o.Size != want {
					t.Errorf("List(%q): %s has size %d, want %d", c.prefix, o.Key, o.Size, want)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
			}
		}
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"", "/abs", "a//b", "a/", "../up", "a/../b", "a/./b", ".hidden", "a/.tmp-1", "a\\b", "a\x00b"} {
			var ke *objstore.KeyError
			if err := s.Put(ctx, key, []byte("x")); !errors.As(err, &ke) {
				t.Errorf("Put(%q): got %v, want a *KeyError", key, err)
			}
			if _, err := s.GetRange(ctx, key, 0, -1); !errors.As(err, &ke) {
				t.Errorf("GetRange(%q): got %v, want a *KeyError", key, err)
			}
			if err := s.Delete(ctx, key); !errors.As(err, &ke) {
				t.Errorf("Delete(%q): got %v, want a *KeyError", key, err)
			}
		}
		for _, prefix := range []string{"/abs", "../", "a//", "a/../"} {
			var ke *objstore.KeyError
			if _, err := s.List(ctx, prefix); !errors.As(err, &ke) {
				t.Errorf("List(%q): got %v, want a *KeyError", prefix, err)
			}
		}
		if objs := mustList(t, s, ""); len(objs) != 0 {
			t.Errorf("refused keys left objects: %v", objs)
		}
	})
	t.Run("Large", func(t *testing.T) {
		s := newStore(t)
		data := payload(5, 8<<20+123)
		mustPut(t, s, "big/object", data)
		if got := mustGet(t, s, "big/object", 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("8 MiB object: got %d bytes back, not the bytes put", len(got))
		}
		if got := mustGet(t, s, "big/object", 4<<20, 1<<20); !bytes.Equal(got, data[4<<20:5<<20]) {
			t.Fatalf("1 MiB range of an 8 MiB object: wrong bytes")
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "c", []byte("x"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, "c2", []byte("y")); err == nil {
			t.Errorf("Put with a canceled context: no error")
		}
		if _, err := s.GetRange(cctx, "c", 0, -1); err == nil {
			t.Errorf("GetRange with a canceled context: no error")
		}
		if got := mustList(t, s, ""); len(got) != 1 || got[0].Key != "c" {
			t.Errorf("after a canceled Put, List = %v, want [c]", got)
		}
	})
	t.Run("ConcurrentOverwriteIsAtomic", func(t *testing.T) {
		// Writers replace one key with whole objects of distinct
		// contents while readers read it: every read is one whole
		// object, never a mix or a part.
		s := newStore(t)
		const size = 64 << 10
		versions := make([][]byte, 4)
		for i := range versions {
			versions[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
		}
		mustPut(t, s, "hot", versions[0])
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 2 {
			wg.Go(func() {
				for i := range 10 {
					if err := s.Put(ctx, "hot", versions[(w+i)%len(versions)]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 20 {
					got, err := s.GetRange(ctx, "hot", 0, -1)
					if err != nil {
						errs <- fmt.Errorf("read during overwrites: %w", err)
						return
					}
					if len(got) != size || !bytes.Equal(got, bytes.Repeat(got[:1], size)) {
						errs <- fmt.Errorf("read a torn object: %d bytes, starting %q", len(got), head(got))
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("ConcurrentWritersDistinctKeys", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					key := fmt.Sprintf("wal/n%d/%04d", w, i)
					if err := s.Put(ctx, key, payload(uint64(w*100+i), 100+i)); err != nil {
						t.Errorf("Put(%q): %v", key, err)
					}
					if i%3 == 0 {
						if err := s.Delete(ctx, key); err != nil {
							t.Errorf("Delete(%q): %v", key, err)
						}
					}
				}
			})
		}
		wg.Wait()
		objs := mustList(t, s, "wal/")
		if len(objs) != 4*6 {
			t.Fatalf("List after concurrent writes: %d objects, want 24", len(objs))
		}
	})
}

// payload returns n pseudo-random bytes from seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

func mustPut(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, data); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func mustGet(t *testing.T, s objstore.Store, key string, off, n int64) []byte {
	t.Helper()
	b, err := s.GetRange(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("GetRange(%q, %d, %d): %v", key, off, n, err)
	}
	return b
}

func mustList(t *testing.T, s objstore.Store, prefix string) []objstore.Object {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return objs
}
