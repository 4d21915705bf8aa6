package broker

// SetWaitHook makes b call f whenever a Fetch long poll or an idle
// subscription is about to wait, so tests know a waiter is parked without
// sleeping. Set it before the broker serves requests.
func SetWaitHook(b *Broker, f func()) { b.waitHook = f }

// Murmur2 exposes the partitioner's hash to black-box tests.
var Murmur2 = murmur2
