package broker

// DisableStats drops topic's partition counters (the hot-path adds then
// find no counters and do nothing), for benchmarks comparing produce with
// and without them.
func DisableStats(b *Broker, topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[topic]; t != nil {
		t.stats = nil
	}
}
