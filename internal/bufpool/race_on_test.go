//go:build race

package bufpool

// raceEnabled: the race detector makes sync.Pool drop some of what it is
// given, so allocation counts are not checked.
const raceEnabled = true
