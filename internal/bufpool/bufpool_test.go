package bufpool

import "testing"

func TestGetSizes(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{
		{0, 0},
		{1, 1},
		{Min - 1, Min - 1},
		{Min, Min},
		{Min + 1, 2 * Min},
		{1 << 20, 1 << 20},
		{1<<20 + 3, 2 << 20},
	} {
		b := Get(tc.n)
		if len(b) != tc.n || cap(b) != tc.cap {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", tc.n, len(b), cap(b), tc.n, tc.cap)
		}
	}
}

func TestPutReuses(t *testing.T) {
	// sync.Pool may drop anything at any time (and does under the race
	// detector), so look for one reuse in several tries.
	for range 100 {
		b := Get(3 * Min)
		p := &b[0]
		Put(b)
		c := Get(3*Min - 5)
		if len(c) != 3*Min-5 || cap(c) != 4*Min {
			t.Fatalf("len %d cap %d", len(c), cap(c))
		}
		if &c[0] == p {
			return
		}
	}
	t.Skip("the pool never handed a buffer back (sync.Pool may drop them; the race detector does)")
}

func TestPutIgnoresUnpooledSizes(t *testing.T) {
	Put(nil)
	Put(make([]byte, 10))
	Put(make([]byte, 0, 3*Min)) // grown past a class, not a power of two
	for range 10 {
		if b := Get(3 * Min); cap(b) != 4*Min {
			t.Fatalf("cap %d from the pool of class %d", cap(b), 4*Min)
		}
	}
}

// Once warm, taking a buffer and giving it back allocates nothing.
func TestGetPutAllocateNothing(t *testing.T) {
	Put(Get(64 << 10))
	if a := testing.AllocsPerRun(100, func() { Put(Get(64 << 10)) }); a > 0.1 && !raceEnabled {
		t.Errorf("%.2f allocations per Get and Put", a)
	}
}
