package shared

import (
	"bytes"
	"testing"
)

// readCached copies a range only when every block holding it is cached,
// and leaves the cache's order alone.
func TestCacheReadCached(t *testing.T) {
	c := newCache(100, 10)
	obj := []byte("0123456789abcdefghijKLMNO") // blocks of 10, 10 and 5 bytes
	c.putObject("o", obj)
	c.putObject("other", []byte("x"))
	for _, tc := range []struct {
		name   string
		off, n int64
		ok     bool
	}{
		{"within a block", 2, 5, true},
		{"a whole block", 10, 10, true},
		{"across blocks", 8, 14, true},
		{"to the end", 0, 25, true},
		{"past the end", 20, 6, false},
		{"empty", 3, 0, false},
		{"negative", -1, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("prefix:")
			got, ok := c.readCached(dst, "o", tc.off, tc.n)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			want := "prefix:"
			if ok {
				want += string(obj[tc.off : tc.off+tc.n])
			}
			if string(got) != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	if front := c.lru.Front().Value.(*cacheEntry).k.key; front != "other" {
		t.Errorf("most recently used block is %q's after reads of o, want other's", front)
	}

	// Evict o's middle block: a range needing it is not served.
	c.mu.Lock()
	e := c.m[blockKey{"o", 1}]
	c.lru.Remove(e)
	delete(c.m, blockKey{"o", 1})
	c.mu.Unlock()
	if got, ok := c.readCached(nil, "o", 5, 10); ok {
		t.Errorf("read %q across an evicted block", got)
	}
	if got, ok := c.readCached(nil, "o", 20, 5); !ok || !bytes.Equal(got, obj[20:]) {
		t.Errorf("last block: %q, %v", got, ok)
	}
	if got, ok := c.readCached(nil, "missing", 0, 1); ok {
		t.Errorf("read %q of an object never cached", got)
	}
}
