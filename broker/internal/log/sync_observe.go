package log

import "time"

// SetObserver makes the gate tell fn how long each fdatasync it admits
// takes (the wait for a slot is not counted): the latency of the
// durability point of every group commit. fn runs on the syncing
// goroutine and must not block; nil stops observing. Call it before the
// gate is in use.
func (g *SyncGate) SetObserver(fn func(time.Duration)) {
	if g != nil {
		g.observe = fn
	}
}

// timed runs sync, reporting its duration to the observer if there is one.
func (g *SyncGate) timed(sync func() error) error {
	if g.observe == nil {
		return sync()
	}
	start := time.Now()
	err := sync()
	g.observe(time.Since(start))
	return err
}

// SetObserver makes the journal tell fn how long each of its fdatasyncs
// takes: under fsync=always the one durability point of every partition's
// group commit. fn runs on the journal's writer goroutine and must not
// block; nil stops observing. Call it before Start.
func (j *Journal) SetObserver(fn func(time.Duration)) { j.observe = fn }

// timedSync syncs the current journal file, reporting the duration to the
// observer if there is one.
func (j *Journal) timedSync() error {
	if j.observe == nil {
		return j.f.Sync()
	}
	start := time.Now()
	err := j.f.Sync()
	j.observe(time.Since(start))
	return err
}
