//go:build !race

package bufpool

// raceEnabled: see race_on_test.go.
const raceEnabled = false
