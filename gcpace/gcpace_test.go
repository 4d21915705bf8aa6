package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name                  string
		percent               int
		floor, live, resident int64
		want                  int
	}{
		{"nothing resident: the percentage as given", 400, 0, 100 * mib, 0, 400},
		{"nothing resident, small heap under the floor: never above the percentage", 400, 64 * mib, 4 * mib, 0, 400},
		{"a full cache: headroom of the rest only", 400, 0, 272 * mib, 256 * mib, 23}, // 4 x 16 MiB over 272 MiB
		{"a full cache and the floor", 400, 64 * mib, 272 * mib, 256 * mib, 23},
		{"the floor wins over a small rest", 400, 128 * mib, 272 * mib, 256 * mib, 47},
		{"everything resident: the floor", 400, 32 * mib, 256 * mib, 256 * mib, 12},
		{"everything resident, no floor: at least 1", 400, 0, 256 * mib, 256 * mib, 1},
		{"resident reported above live (raced with the cache): as everything resident", 400, 32 * mib, 256 * mib, 300 * mib, 12},
		{"negative resident: as nothing", 100, 0, 10 * mib, -5, 100},
		{"no live heap yet", 400, 64 * mib, 0, 0, 400},
		{"GOGC off stays off", -1, 64 * mib, 100 * mib, 50 * mib, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percent(c.percent, c.floor, c.live, c.resident); got != c.want {
				t.Errorf("Percent(%d, %d, %d, %d) = %d, want %d", c.percent, c.floor, c.live, c.resident, got, c.want)
			}
		})
	}
}

// TestPacerFollowsCollections: after a collection with a resident set of
// most of the live heap, the pacer has lowered GOGC; Stop restores it.
func TestPacerFollowsCollections(t *testing.T) {
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
	}
	p := Start(400, 0, func() int64 { return int64(len(keep)) << 20 })
	defer runtime.KeepAlive(keep)
	// The pacer hears of a collection from a cleanup, which runs on its
	// own goroutine after it: collect until it has (a bounded wait).
	for range 200 {
		runtime.GC()
		time.Sleep(time.Millisecond)
		if p.GOGC() < 400 {
			break
		}
	}
	if g := p.GOGC(); g >= 400 {
		t.Fatalf("GOGC %d after collections with 64 MiB resident, want below 400", g)
	}
	p.Stop()
	if g := debug.SetGCPercent(400); g != 400 {
		t.Errorf("GOGC after Stop is %d, want 400", g)
	}
	debug.SetGCPercent(100)
}
