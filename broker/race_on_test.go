//go:build race

package broker

// raceEnabled says the tests run under the race detector, which adds
// allocations of its own: allocation counts are not checked then.
const raceEnabled = true
