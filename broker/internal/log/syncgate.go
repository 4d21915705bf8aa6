package log

import "time"

// SyncGate bounds how many partitions run fdatasync at the same time.
//
// Why: a goroutine blocked in fdatasync keeps its scheduler P until the
// runtime's monitor takes it back, so on a small machine (GOMAXPROCS=2) eight
// partitions syncing at once starve the network and decoding goroutines and
// every group stays small. Measured on a 2-core VM with 8 partitions, 1 KiB
// records and fsync=always: unbounded concurrent syncs gave 17 MB/s; the
// same run with GOMAXPROCS=8 gave 124 MB/s. Bounding the syncs keeps Ps for
// the rest of the server, and while a partition waits at the gate its queue
// grows, so the next group commits more records per fdatasync — the same
// effect that lets a single-threaded broker such as kfake sync per batch at
// disk speed.
//
// One gate is shared by every partition on one disk (the broker makes one).
// A nil *SyncGate does not bound anything.
type SyncGate struct {
	sem     chan struct{}
	observe func(time.Duration) // sync_observe.go
}

// NewSyncGate returns a gate admitting n concurrent fdatasyncs (n >= 1).
func NewSyncGate(n int) *SyncGate {
	return &SyncGate{sem: make(chan struct{}, max(n, 1))}
}

// do runs sync once a slot is free.
func (g *SyncGate) do(sync func() error) error {
	if g == nil {
		return sync()
	}
	g.sem <- struct{}{}
	defer func() { <-g.sem }()
	return g.timed(sync)
}
