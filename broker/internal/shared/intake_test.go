package shared

import (
	"testing"
	"time"
)

// The number of overlapping PUTs follows the PUT's duration over the
// commit's, between 1 and MaxInflightPuts.
func TestPutLimit(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name              string
		putAvg, commitAvg time.Duration
		maxPuts, want     int
	}{
		{"nothing measured yet", 0, 0, 4, 4},
		{"no commit measured yet", 30 * ms, 0, 4, 4},
		{"no PUT measured yet", 0, 2 * ms, 4, 4},
		{"PUT as fast as a commit (a local directory)", 2 * ms, 2 * ms, 4, 1},
		{"PUT faster than a commit", ms, 3 * ms, 4, 1},
		{"PUT a little slower: two", 2*ms + 1, 2 * ms, 4, 2},
		{"PUT three times a commit", 6 * ms, 2 * ms, 4, 3},
		{"S3-like PUT: capped", 30 * ms, 2 * ms, 4, 4},
		{"the cap is the config's", 30 * ms, 2 * ms, 8, 8},
		{"a cap of 1", 30 * ms, 2 * ms, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &intake{l: &Log{cfg: Config{MaxInflightPuts: tc.maxPuts}}, putAvg: tc.putAvg, commitAvg: tc.commitAvg}
			if got := in.putLimitLocked(); got != tc.want {
				t.Fatalf("putLimitLocked() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAverage(t *testing.T) {
	var avg time.Duration
	average(&avg, 80*time.Millisecond)
	if avg != 80*time.Millisecond {
		t.Fatalf("first sample: %v, want it as is", avg)
	}
	average(&avg, 0)
	if avg != 70*time.Millisecond {
		t.Fatalf("after a 0 sample: %v, want 70ms (7/8 of 80)", avg)
	}
}
